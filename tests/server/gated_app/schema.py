from smalltown.store import Index, Schema, Table

schema = Schema([Table("counters", indexes=[Index("by_name", ["name"])])])
