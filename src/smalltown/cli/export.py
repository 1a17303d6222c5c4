"""``smalltown export``: the app's tables (and stored files) as a Convex snapshot ZIP."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from smalltown.cli import options
from smalltown.config import Settings

NAME = "export"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    export = sub.add_parser(NAME, help="write a Convex snapshot ZIP")
    export.add_argument("out", help="the .zip to write")
    options.database(export, settings)
    options.app_tables(export, settings, "the app whose tables to export")
    export.add_argument(
        "--include-storage", action="store_true", help="also write stored files (_storage/)"
    )


def handle(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_export(args))


async def _export(args: argparse.Namespace) -> int:
    from smalltown.migrate.export import export_zip
    from smalltown.runtime.runtime import with_system_tables
    from smalltown.server import load_app
    from smalltown.store import StoreError, open_store

    try:
        store = await open_store(args.database, with_system_tables(load_app(args.app).schema))
    except StoreError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()

    def progress(table: str, rows: int) -> None:
        print(f"\r  {table}: {rows:,} documents", end="", file=sys.stderr, flush=True)

    try:
        counts = await export_zip(store, args.out, progress, args.include_storage)
    finally:
        await store.close()
    total = sum(counts.values())
    print(
        f"\rexported {total:,} documents from {len(counts)} tables to {args.out} "
        f"in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0
