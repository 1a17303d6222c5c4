"""``smalltown export``: the app's tables (and stored files) as a Convex snapshot ZIP."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from smalltown.cli import options
from smalltown.cli.progress import Progress
from smalltown.config import Settings

NAME = "export"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    export = sub.add_parser(NAME, help="write a Convex snapshot ZIP")
    export.add_argument("out", help="the .zip to write")
    options.database(export, settings)
    options.app_schema(export, settings, "the app whose schema declares tables (all are exported)")
    export.add_argument(
        "--include-storage", action="store_true", help="also write stored files (_storage/)"
    )


def handle(args: argparse.Namespace, settings: Settings) -> int:
    if (refusal := _unwritable(Path(args.out))) is not None:
        print(f"smalltown: cannot write {args.out}: {refusal}", file=sys.stderr)
        return 1
    return asyncio.run(_export(args))


def _unwritable(out: Path) -> str | None:
    """Why ``out`` cannot be written, checked before the database is opened; None if it
    can (as far as can be told without writing)."""
    folder = out.parent
    if out.is_dir():
        return "it is a folder; give the .zip file to write"
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    return None


async def _export(args: argparse.Namespace) -> int:
    from smalltown.migrate.export import export_zip
    from smalltown.runtime.runtime import with_system_tables
    from smalltown.store import StoreError, open_store
    from smalltown.worlds.parts import WORLDS_EXPORT

    try:
        schema = with_system_tables(options.app_schema_of(args))
        store = await open_store(args.database, schema)
    except (StoreError, options.AppNotLoaded) as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    shown = Progress()

    def progress(table: str, rows: int) -> None:
        shown.show(f"  {table}: {rows:,} documents")

    try:
        counts = await export_zip(
            store, args.out, progress, args.include_storage, shape=WORLDS_EXPORT
        )
    except OSError as exc:  # the disk filled, say, or the folder went away meanwhile
        shown.end_line()
        print(f"smalltown: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    total = sum(counts.values())
    shown.done(
        f"exported {total:,} documents from {len(counts)} tables to {args.out} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0
