"""The realtime benchmark's one table: named counters, looked up by name."""

from smalltown.store import Index, Schema, Table

schema = Schema([Table("ticks", indexes=[Index("by_name", ["name"])])])
