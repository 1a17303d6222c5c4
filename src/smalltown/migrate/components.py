"""Components' tables (``_components/<name>/...`` in a snapshot), kept apart from the app's.

A component's table numbers are its own and may repeat the app's, so its documents cannot
become rows of app tables without changing their ids. They are kept instead as rows of
the system table ``_smalltown_components``: the ZIP prefix (``_components/chat/``, nesting
repeated as ``_components/a/_components/b/``), the table, the line and the document as
the snapshot had it, ids and all. ``_smalltown_component_tables`` keeps each component
table's number. The app never sees them; ``smalltown export`` writes them back to the same
entries, so export → import → export gives the same ZIP.
"""

from __future__ import annotations

from typing import Any

from smalltown.migrate.snapshot import Entry, Snapshot
from smalltown.migrate.source import Source

DOCUMENTS = "_smalltown_components"  # declared with the runtime's system tables
TABLE_NUMBERS = "_smalltown_component_tables"


def source(snapshot: Snapshot, entry: Entry) -> Source:
    found = snapshot.source(entry, DOCUMENTS)
    found.component = (entry.prefix, entry.table)
    return found


async def insert(tx: Any, source: Source, docs: list[tuple[int, dict[str, Any]]]) -> None:
    """Keep a batch of a component table's ``(line, document)`` pairs, and (once) its number."""
    assert source.component is not None
    prefix, table = source.component
    if await tx.first(TABLE_NUMBERS, "byTable", eq={"prefix": prefix, "table": table}) is None:
        await tx.insert(TABLE_NUMBERS, {"prefix": prefix, "table": table, "number": source.number})
    for line, doc in docs:
        await tx.insert(DOCUMENTS, {"prefix": prefix, "table": table, "line": line, "doc": doc})


async def count(tx: Any, prefix: str, table: str) -> int:
    """1 if anything of one component table is stored (its documents or its number), else 0."""
    of_table = {"prefix": prefix, "table": table}
    for stored in (DOCUMENTS, TABLE_NUMBERS):
        if await tx.first(stored, "byTable", eq=of_table) is not None:
            return 1
    return 0


async def clear(store: Any, prefix: str, table: str, batch: int) -> None:
    """Delete one component table's documents, then its number."""
    for stored in (DOCUMENTS, TABLE_NUMBERS):
        await store.delete_all(
            stored, batch, index="byTable", eq={"prefix": prefix, "table": table}
        )
