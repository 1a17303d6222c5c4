from smalltown.store import Index, Schema, Table

schema = Schema(
    [
        Table("messages", indexes=[Index("by_channel", ["channel"])]),
        Table("counters", indexes=[Index("by_name", ["name"])]),
        Table("log"),
    ]
)
