"""The town's database, opened for a command, or one line saying why it cannot be."""

from __future__ import annotations

import sys


async def open_town_store(database: str):
    """The town's store, or None after saying why it cannot be opened."""
    from smalltown.store import StoreError
    from smalltown.town import schema

    try:
        return await schema.open_town_store(database)
    except StoreError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return None
