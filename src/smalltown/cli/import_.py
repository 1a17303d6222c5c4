"""``smalltown import``: a Convex snapshot ZIP, or one table's file, into the database, with
progress as it goes; an interrupted import finishes when run again."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from smalltown.cli import options
from smalltown.cli.progress import Progress
from smalltown.config import Settings

NAME = "import"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    imp = sub.add_parser(
        NAME, help="read a Convex snapshot ZIP, or one table's file, into the database"
    )
    imp.add_argument(
        "snapshot", help="the .zip `npx convex export` wrote, or with --table a .jsonl/.json/.csv"
    )
    imp.add_argument("--table", help="import FILE (.jsonl, .json or .csv) into this one table")
    options.database(imp, settings)
    imp.add_argument(
        "--mode",
        default="requireEmpty",
        choices=["requireEmpty", "append", "replace", "replaceAll"],
    )
    options.app_tables(imp, settings, "the app whose tables receive the documents")


def handle(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_import(args))
    except KeyboardInterrupt:
        print(
            "\nsmalltown: import interrupted; what it wrote is kept, and the same "
            "command run again finishes it",
            file=sys.stderr,
        )
        return 130


async def _import(args: argparse.Namespace) -> int:
    from smalltown.migrate.import_zip import fit_schema, import_table, import_zip
    from smalltown.runtime.runtime import with_system_tables
    from smalltown.server import load_app
    from smalltown.store import StoreError, open_store

    try:
        app_schema = with_system_tables(load_app(args.app).schema)
        store = await open_store(args.database, fit_schema(app_schema, args.snapshot, args.table))
    except StoreError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    written: dict[str, int] = {}
    shown = Progress()

    def progress(table: str, rows: int) -> None:
        written[table] = rows
        total = sum(written.values())
        rate = total / max(time.monotonic() - started, 1e-9)
        tables = f"{len(written)} table{'s' if len(written) > 1 else ''}"
        shown.show(f"  {total:,} documents in {tables}, {rate:,.0f}/s (now {table}: {rows:,})")

    try:
        if args.table:
            report = await import_table(store, args.table, args.snapshot, args.mode, progress)
        else:
            report = await import_zip(store, args.snapshot, args.mode, progress)
    except StoreError as exc:
        shown.end_line()
        print(f"smalltown: import failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    total = sum(report.tables.values())
    again = " (resumed)" if report.resumed else ""
    shown.done(
        f"imported {total:,} documents into "
        f"{len(report.tables)} tables{again} in "
        f"{time.monotonic() - started:.1f} s"
    )
    if report.files:
        print(f"  copied {report.files:,} stored files", file=sys.stderr)
    for note in report.notes:
        print(f"  note: {note}", file=sys.stderr)
    return 0
