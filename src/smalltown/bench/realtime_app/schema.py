from smalltown.store import Index, Schema, Table

schema = Schema([Table("ticks", indexes=[Index("by_name", ["name"])])])
