"""``smalltown import``: a Convex snapshot ZIP, or one table's file, into the database, with
progress as it goes; an interrupted import finishes when run again.

Every table comes in, declared by the app or not. What an import would leave out, or a
declared table whose documents do not fit the app's schema, stops it (exit 1, nothing
written) unless the flag naming that choice is given. The last line sets the documents
written per table against the input's; should they differ, the exit status is 1.
"""

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
    options.app_schema(imp, settings, "the app whose schema declares tables (all are imported)")
    choices = imp.add_argument_group("leaving out, or taking as it is, what would stop the import")
    choices.add_argument(
        "--skip-components", action="store_true", help="leave out components' tables and files"
    )
    choices.add_argument(
        "--skip-component-files",
        action="store_true",
        help="leave out components' stored files (smalltown keeps none); their tables come in",
    )
    choices.add_argument(
        "--skip-files", action="store_true", help="leave out the app's stored files (_storage)"
    )
    choices.add_argument(
        "--skip-system-tables",
        action="store_true",
        help="leave out Convex's own tables (_scheduled_functions and the like)",
    )
    choices.add_argument(
        "--mismatched-as-undeclared",
        action="store_true",
        help="import declared tables whose documents do not fit the app's schema as they "
        "are, unchecked, as undeclared tables are",
    )


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
    from smalltown.migrate.import_zip import Choices, fit_schema, import_table, import_zip
    from smalltown.runtime.runtime import with_system_tables
    from smalltown.store import StoreError, open_store

    choices = Choices(
        skip_components=args.skip_components,
        skip_component_files=args.skip_component_files,
        skip_files=args.skip_files,
        skip_system_tables=args.skip_system_tables,
        mismatched_as_undeclared=args.mismatched_as_undeclared,
    )
    try:
        app_schema = with_system_tables(options.app_schema_of(args))
        store = await open_store(args.database, fit_schema(app_schema, args.snapshot, args.table))
    except (StoreError, options.AppNotLoaded) as exc:
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
            report = await import_table(
                store, args.table, args.snapshot, args.mode, progress, choices
            )
        else:
            report = await import_zip(store, args.snapshot, args.mode, progress, choices)
    except StoreError as exc:
        shown.end_line()
        print(f"smalltown: import failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    shown.end_line()
    if report.files:
        print(f"  copied {report.files:,} stored files", file=sys.stderr)
    if report.undeclared:
        print(
            f"  kept {len(report.undeclared)} table{'s' if len(report.undeclared) > 1 else ''} "
            f"the app does not declare: {', '.join(report.undeclared)} (see smalltown tables)",
            file=sys.stderr,
        )
    for note in report.notes:
        print(f"  note: {note}", file=sys.stderr)
    shown.done(_final_line(report, time.monotonic() - started))
    if short := report.shortfall():
        print(
            "smalltown: import incomplete: "
            + ", ".join(f"{t} {w:,} written of {n:,}" for t, (w, n) in sorted(short.items())),
            file=sys.stderr,
        )
        return 1
    return 0


def _final_line(report, seconds: float) -> str:
    """Documents written per table against the input's documents (lines) per table."""
    total, lines = sum(report.tables.values()), sum(report.lines.values())
    again = " (resumed)" if report.resumed else ""
    per_table = ", ".join(
        f"{table} {report.tables.get(table, 0):,}/{n:,}"
        for table, n in sorted(report.lines.items())
    )
    return (
        f"imported {total:,} of {lines:,} documents into {len(report.tables)} "
        f"table{'' if len(report.tables) == 1 else 's'}{again} in {seconds:.1f} s "
        f"(written/in the snapshot: {per_table or 'none'})"
    )
