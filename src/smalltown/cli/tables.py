"""``smalltown tables``: every table of the app's data the database holds, declared by the
app or not (an import keeps both), with its number, documents and indexes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from smalltown.cli import options
from smalltown.cli.table import Column, header, line
from smalltown.config import Settings

NAME = "tables"
COLUMNS = (
    Column("table", 24),
    Column("number", 6, right=True, gap=2),
    Column("documents", 11, right=True, gap=2),
    Column("declared", 8, gap=2),
    Column("indexes", gap=2),
)


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    tables = sub.add_parser(
        NAME, help="list the tables the database holds, declared by the app or not"
    )
    options.database(tables, settings)
    options.app_schema(tables, settings, "the app whose schema declares tables")


def handle(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_tables(args))


async def _tables(args: argparse.Namespace) -> int:
    from smalltown.store import Schema, StoreError, open_store

    try:
        declared = {t.name for t in options.app_schema_of(args).tables}
        # Opened with no schema, so that looking changes nothing: every table the
        # database holds comes with the indexes it was stored with.
        store = await open_store(args.database, Schema([]))
    except (StoreError, options.AppNotLoaded) as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    try:
        rows = await store.read(lambda tx: _describe(tx, store, declared))
    except StoreError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(header(COLUMNS))
    for row in rows:
        print(line(COLUMNS, row))
    if not rows:
        print("(no tables yet: nothing was imported, and no app has run on this database)")
    return 0


async def _describe(tx: Any, store: Any, declared: set[str]) -> list[list[str]]:
    """A row per table of the app's data, by name."""
    rows = []
    for name, number in sorted(store.table_numbers.items()):
        if name.startswith("_"):
            continue
        table = store.schema.table(name)
        indexes = ["by_id", "by_creation_time", *(i.name for i in table.indexes)]
        indexes += [f"{v.name} (vector, {v.dimensions})" for v in table.vector_indexes]
        rows.append(
            [
                name,
                str(number),
                f"{await tx.count(name):,}",
                "yes" if name in declared else "no",
                ", ".join(indexes),
            ]
        )
    return rows
