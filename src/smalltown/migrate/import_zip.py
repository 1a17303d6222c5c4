"""``smalltown import``: a Convex snapshot ZIP, or one table's file, into the store, ids
and all.

Two passes over the input, each streaming (memory stays bounded whatever its size):

1. **check**: every line is a JSON object with a valid ``_id`` of its table's number (or,
   in a single-table file, none) and a numeric ``_creationTime``; fields are Convex values
   and a table's vectors share one size. A bad line is reported with its file and line
   number, and nothing is written (see below for empty tables).
2. **write**: tables take the snapshot's numbers (from ``_tables``, else from the first
   ``_id``), then documents go in batches, each batch in one transaction together with
   the import's progress. An interrupted import (even SIGKILL) is finished by running the
   same command again: it resumes after the last committed batch, so no document is
   written twice and none is missed.

Into empty tables whose numbers ``_tables`` gives (a fresh import), the passes overlap:
batches are written as the check pass hands them over, and should a line fail after some
went in, the tables are emptied again, which is how they were (``_import_overlapped``).

Components (``_components/``) and file storage (``_storage``) go to system tables of
their own, see ``components.py`` and ``storage.py``. Tables the app does not declare are
kept all the same, with the default indexes, as Convex keeps tables no schema declares.
Nothing is left out unless asked (:class:`Choices`): what an import would leave out
(Convex's system tables, components' stored files, or what a ``skip_`` choice names) is
listed, with how much, and without the choice that names it the import is refused before
it writes anything. So is a declared table whose documents do not fit the app's
``document`` validator, unless ``mismatched_as_undeclared`` takes them as they are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from smalltown.migrate import components, storage
from smalltown.migrate.allocation import map_big_buffers
from smalltown.migrate.handoff import Handoff
from smalltown.migrate.parallel_check import Batch, Checker, check_document
from smalltown.migrate.snapshot import Snapshot
from smalltown.migrate.source import MismatchError, SnapshotError, Source, bad_line
from smalltown.migrate.spool import BatchSink, Spool, carry_on
from smalltown.migrate.stored_text import body_text
from smalltown.migrate.table_file import file_key, table_file_source
from smalltown.store import (
    InvalidIdError,
    InvalidValueError,
    Schema,
    Store,
    StoreConnectionError,
    StoreError,
    Table,
    VectorIndex,
    encode_id,
)
from smalltown.store import files as stored_files
from smalltown.store.ids import new_internal_id
from smalltown.store.keys import field_value
from smalltown.store.prepared import PreparedRow, prepare_row
from smalltown.store.validators import DocumentMismatchError, check_fit
from smalltown.store.values import SYSTEM_FIELDS, check_document_fields

__all__ = ["Choices", "SnapshotError", "fit_schema", "import_table", "import_zip"]

Mode = Literal["requireEmpty", "append", "replace", "replaceAll"]
MODES = ("requireEmpty", "append", "replace", "replaceAll")
BATCH = 500  # documents a transaction, when read again from the input
PROGRESS = "_smalltown_imports"
EMPTY_BEFORE = "(empty before)"  # a progress row: the import's tables were empty when it began


@dataclass(frozen=True)
class Choices:
    """What the operator chose to leave out, or to take as it is: each is a flag of
    ``smalltown import`` (``FLAGS``), and without it the import refuses."""

    skip_components: bool = False  # components' tables (and their files)
    skip_component_files: bool = False  # components' stored files, which are never kept
    skip_files: bool = False  # the app's stored files (``_storage``)
    skip_system_tables: bool = False  # Convex's own tables (``_scheduled_functions``...)
    #: declared tables whose documents do not fit the app's validator: imported unchecked
    mismatched_as_undeclared: bool = False


#: each choice's command-line flag, named in messages
FLAGS = {
    "skip_components": "--skip-components",
    "skip_component_files": "--skip-component-files",
    "skip_files": "--skip-files",
    "skip_system_tables": "--skip-system-tables",
    "mismatched_as_undeclared": "--mismatched-as-undeclared",
}


@dataclass
class ImportReport:
    tables: dict[str, int] = field(default_factory=dict)  # documents written, by table
    lines: dict[str, int] = field(default_factory=dict)  # the input's documents, by table
    notes: list[str] = field(default_factory=list)  # what was not carried over or was adapted
    resumed: bool = False
    files: int = 0  # stored files copied
    index_seconds: float = 0.0  # building indexes suspended for the load (PostgreSQL HNSW)
    undeclared: list[str] = field(default_factory=list)  # tables the app does not declare

    def shortfall(self) -> dict[str, tuple[int, int]]:
        """Tables with fewer (or more) documents written than the input has: none, if the
        import did what it says."""
        return {
            t: (self.tables.get(t, 0), n) for t, n in self.lines.items() if self.tables.get(t) != n
        }


class LeftOutError(SnapshotError):
    """The import would leave out part of the snapshot that no choice names."""


def _sources(snapshot: Snapshot, choices: Choices, report: ImportReport) -> list[Source]:
    """What the import reads, after refusing (``LeftOutError``) if it would leave anything
    out unasked; what it leaves out as asked goes to the report's notes."""
    left: list[tuple[str, str, str]] = []  # what, how much and why, the choice's name
    for entry in snapshot.system_tables:
        n = snapshot.count_lines(entry.name)
        left.append((f"{entry.prefix}{entry.table}", _documents(n), "skip_system_tables"))
    sources = []
    for entry in snapshot.entries:
        if not entry.prefix:
            sources.append(snapshot.source(entry))
        elif choices.skip_components:
            n = snapshot.count_lines(entry.name)
            left.append((f"{entry.prefix}{entry.table}", _documents(n), "skip_components"))
        else:
            sources.append(components.source(snapshot, entry))
    for prefix in snapshot.component_files:
        choice = "skip_components" if choices.skip_components else "skip_component_files"
        left.append((f"{prefix}_storage", _files(snapshot.stored_files(prefix)), choice))
    if (found := storage.source(snapshot)) is not None:
        if choices.skip_files:
            left.append(("_storage", _files(snapshot.stored_files()), "skip_files"))
        else:
            sources.append(found)
    refused = [(what, much, name) for what, much, name in left if not getattr(choices, name)]
    if refused:
        raise LeftOutError(
            "the import would leave out "
            + "; ".join(f"{what} ({much}: {FLAGS[name]})" for what, much, name in refused)
            + ". Nothing was written; give the flag named beside each to import the rest "
            "without it"
        )
    for what, much, name in left:
        report.notes.append(f"{what}: {much} left out, as {FLAGS[name]} asks")
    return sources


def _documents(n: int) -> str:
    return f"{n:,} document{'' if n == 1 else 's'}"


def _files(n: int) -> str:
    return f"{n:,} stored file{'' if n == 1 else 's'}"


def _report_key(source: Source) -> str:
    """The report's name for a source: its table, or a component's (``_components/a/t``)."""
    return "".join(source.component) if source.component else source.table


def check(
    sources: Sequence[Source],
    schema: Schema,
    spool: BatchSink | None = None,
    done: dict[str, tuple[int, int]] | None = None,
    processes: int | None = None,
    interrupt: Callable[[], None] = carry_on,
    lines: dict[str, int] | None = None,
    unchecked: dict[str, str] | None = None,
) -> dict[str, int]:
    """The first pass: every line readable, every document valid and every id of its
    table. Returns the table number each store table must have.

    With a ``spool``, the documents of app and file-storage tables are also prepared for
    writing (stored JSON, index keys, vectors) and spooled, so the write pass parses
    nothing again; lines that an interrupted run committed (``done``) are checked only.
    A uniform ZIP entry's lines are checked on every core (``parallel_check.py``; at most
    ``processes`` checking processes, default one a core). ``interrupt``, called between
    chunks of documents, may raise to stop the pass early. ``lines`` receives each
    source's count of documents (by ``_report_key``). A document that does not fit its
    table's validator fails the pass (``MismatchError``), unless ``unchecked`` is given:
    then that table is checked again without it, and ``unchecked`` says why, by table.
    """
    numbers: dict[str, int] = {}
    done = done or {}
    with Checker(processes) as checker:
        for source in sources:
            interrupt()
            prepared_in = spool if _preparable(source) else None
            try:
                expected, count = _check_source(
                    source, schema, prepared_in, done, checker, interrupt
                )
            except MismatchError as exc:
                if unchecked is None or exc.table != source.table:
                    raise
                unchecked[source.table] = str(exc)
                if prepared_in is not None:
                    prepared_in.forget(source.label)
                t = schema.table(source.table)
                schema = schema.merged([Table(t.name, t.indexes, t.vector_indexes)])
                expected, count = _check_source(
                    source, schema, prepared_in, done, checker, interrupt
                )
            if lines is not None:
                lines[_report_key(source)] = count
            source.number = expected
            if expected is not None and not source.component:
                numbers[source.table] = expected
    return numbers


def _check_source(
    source: Source,
    schema: Schema,
    spool: BatchSink | None,
    done: dict[str, tuple[int, int]],
    checker: Checker,
    interrupt: Callable[[], None],
) -> tuple[int | None, int]:
    """Check one source; returns its table number and how many documents it has."""
    sizes: dict[str, int | None] = {v.field: None for v in _vector_indexes(schema, source.table)}
    skip = done.get(source.label, (0, 0))[0]
    if spool is not None and source.lines is not None and source.verify is None:
        table = schema.table(source.table)
        expected = checker.check(source, table, sizes, skip, spool, interrupt)
        return expected, checker.counted
    counted = [0]
    expected = _check_read(source, schema, spool, sizes, skip, interrupt, counted)
    return expected, counted[0]


def _check_read(
    source: Source,
    schema: Schema,
    spool: BatchSink | None,
    sizes: dict[str, int | None],
    skip: int,
    interrupt: Callable[[], None] = carry_on,
    counted: list[int] | None = None,
) -> int | None:
    """Check (and with a ``spool``, prepare) a source in this process, document after
    document; returns its table number (and counts its documents into ``counted[0]``)."""
    expected = source.number
    table = schema.table(source.table) if spool is not None else None
    declared = schema.table(source.table) if source.table in schema else None
    validator = declared.validator if declared is not None and not source.component else None
    batch = Batch()
    for n, doc, line in source.documents():
        if counted is not None:
            counted[0] += 1
        if n % 1000 == 0:
            interrupt()
        where = f"{source.label} line {n}"
        number, expected = check_document(where, doc, source.table, expected, sizes, source.new_ids)
        try:
            if table is not None and number is not None:
                text = body_text(line) if line is not None else None
                row = prepare_row(table, doc, number, text)
                if n > skip:
                    batch.add(n, row)
                    if batch.full():
                        spool.add(source.label, *batch.take())  # type: ignore[union-attr]
            else:
                body = {k: v for k, v in doc.items() if k not in SYSTEM_FIELDS}
                check_document_fields(body, source.table)
                if validator is not None:
                    try:
                        check_fit(validator, body, source.table)
                    except DocumentMismatchError as exc:
                        raise exc.of(doc["_id"]) if "_id" in doc else exc from None
        except (InvalidValueError, InvalidIdError) as exc:
            raise bad_line(where, exc) from None
        if source.verify is not None:
            source.verify(where, doc)
    if batch.rows:
        spool.add(source.label, *batch.take())  # type: ignore[union-attr]
    return expected


def _preparable(source: Source) -> bool:
    """Rows that go to a table as they are (not a component's, nor needing new ids)."""
    return source.component is None and not source.new_ids


def _vector_indexes(schema: Schema, table: str) -> Sequence[VectorIndex]:
    return schema.table(table).vector_indexes if table in schema else ()


async def import_zip(
    store: Store,
    path: str | Path,
    mode: Mode = "requireEmpty",
    progress: Callable[[str, int], None] | None = None,
    choices: Choices = Choices(),
) -> ImportReport:
    """Import a snapshot ZIP (see the module docstring)."""
    _check_mode(mode)
    snapshot = Snapshot(path)
    report = ImportReport(notes=list(snapshot.notes))
    sources = _sources(snapshot, choices, report)
    tables = _app_tables(store)
    return await _import(
        store, sources, snapshot.key(), mode, tables, report, progress, choices, snapshot
    )


async def import_table(
    store: Store,
    table: str,
    path: str | Path,
    mode: Mode = "requireEmpty",
    progress: Callable[[str, int], None] | None = None,
    choices: Choices = Choices(),
) -> ImportReport:
    """Import one table from a JSONL, JSON or CSV file (see ``table_file.py``); a table
    the app does not declare is made, as a snapshot's would be."""
    _check_mode(mode)
    if table.startswith("_"):
        raise SnapshotError(f"{table!r}: names starting with '_' are system tables")
    try:
        Table(table)
    except StoreError as exc:
        raise SnapshotError(str(exc)) from None
    source = table_file_source(path, table)
    key = file_key(path, table)
    tables = _app_tables(store)
    return await _import(store, [source], key, mode, tables, ImportReport(), progress, choices)


def _app_tables(store: Store) -> set[str]:
    """The tables that hold the app's documents, declared or not (not the system's)."""
    return {t for t in store.table_numbers if not t.startswith("_")}


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise SnapshotError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


async def _import(
    store: Store,
    sources: list[Source],
    key: str,
    mode: Mode,
    declared: set[str],
    report: ImportReport,
    progress: Callable[[str, int], None] | None,
    choices: Choices,
    snapshot: Snapshot | None = None,
) -> ImportReport:
    map_big_buffers()
    done = await store.read(lambda tx: _progress(tx, key))
    resized = list(_vector_sizes(sources, store.schema))
    fitted = store.schema
    for table, vindex, size in resized:
        fitted = fitted.with_vector_dimensions(table, vindex.name, size)
    new = sorted({s.table for s in sources if not s.component} - set(store.table_numbers))
    fitted = fitted.merged([Table(name) for name in new])  # undeclared: default indexes
    report.undeclared = sorted(
        {s.table for s in sources if not s.component and not s.table.startswith("_")}
        & (set(new) | store.undeclared)
    )
    report.resumed = bool(done)
    unchecked: dict[str, str] | None = {} if choices.mismatched_as_undeclared else None
    if not new and unchecked is None and await _overlappable(store, mode, sources, declared, done):
        await _import_overlapped(store, sources, key, fitted, resized, done, report, progress)
    else:
        with Spool() as spool:
            numbers = check(sources, fitted, spool, done, lines=report.lines, unchecked=unchecked)
            if not done:
                await _prepare(store, mode, sources, declared)
            await store.add_undeclared_tables(new)  # only once every line has passed
            if not done:
                await store.set_table_numbers(numbers)
            await _fit_vector_indexes(store, resized, report)  # resumed runs too
            for source in sources:
                if _preparable(source):
                    count = await _write_spooled(store, key, source, spool, done, progress, report)
                else:
                    count = await _write_read(store, key, source, done, progress)
                report.tables[_report_key(source)] = count
        for table, why in (unchecked or {}).items():
            report.notes.append(
                f"{table}: imported unchecked, as {FLAGS['mismatched_as_undeclared']} asks "
                f"(its documents do not fit the app's schema; the first: {why})"
            )
    if snapshot is not None and (files := storage.files_of(sources)) is not None:

        async def mark(tx, line: int) -> None:
            await _set_progress(tx, key, storage.FILES_LABEL, line, 0)

        done_files = done.get(storage.FILES_LABEL, (0, 0))[0]
        report.files = await storage.copy_files(store, snapshot, files, done_files, mark)
    await store.run(lambda tx: _forget(tx, key))  # finished: the next run starts afresh
    return report


async def _overlappable(
    store: Store,
    mode: Mode,
    sources: list[Source],
    declared: set[str],
    done: dict[str, tuple[int, int]],
) -> bool:
    """Whether writing may start before every line has passed: only when a failed check
    can put the database back as it was by emptying the tables the import writes, that
    is when they (and any it would clear) were empty when it began. Every table's number
    must be known up front (from ``_tables``), and no document may need a new id."""
    if any(s.new_ids or (s.number is None and not s.component) for s in sources):
        return False
    if done:
        return EMPTY_BEFORE in done  # as the interrupted run found them
    tables = _with_chunks(_written_tables(sources))
    if mode == "replaceAll":
        tables |= declared
    return not any((await _counts(store, tables, _component_tables(sources))).values())


def _written_tables(sources: Sequence[Source]) -> set[str]:
    return {s.table for s in sources if not s.component}


async def _import_overlapped(
    store: Store,
    sources: list[Source],
    key: str,
    schema: Schema,
    resized: Sequence[tuple[str, VectorIndex, int]],
    done: dict[str, tuple[int, int]],
    report: ImportReport,
    progress: Callable[[str, int], None] | None,
) -> None:
    """Check in a thread (and its checking processes) while writing what has passed.

    Should a line fail (or a write be refused) after some batches went in, the tables are
    emptied again, as they were before the import, and its progress forgotten. A run
    killed midway is resumed like any other: the progress row ``EMPTY_BEFORE`` tells the
    next run that emptying is still the way back.
    """
    if not done:
        numbers = {s.table: s.number for s in sources if not s.component}
        await store.set_table_numbers(numbers)  # type: ignore[arg-type]
        # After the numbering, which moves only empty tables (this one among them).
        await store.run(lambda tx: _set_progress(tx, key, EMPTY_BEFORE, 0, 0))
    await _fit_vector_indexes(store, resized, report)
    handoff = Handoff()
    checking = asyncio.get_running_loop().run_in_executor(
        None, _check_into, sources, schema, handoff, done, report.lines
    )
    writer = _OverlappedWriter(store, key, sources, done, progress, report)
    try:
        async for label, (last, rows) in handoff.batches():
            await writer.write(label, last, rows)
        await checking
        await writer.finish()
        for source in sources:
            if not _preparable(source):
                count = await _write_read(store, key, source, done, progress)
                report.tables[_report_key(source)] = count
    except BaseException as exc:
        handoff.stop()
        await asyncio.gather(checking, return_exceptions=True)
        await writer.settle(raise_errors=False)
        if isinstance(exc, StoreError) and not isinstance(exc, StoreConnectionError):
            await _undo(store, key, sources, writer.begun)
        raise


def _check_into(
    sources: list[Source],
    schema: Schema,
    handoff: Handoff,
    done: dict[str, tuple[int, int]],
    lines: dict[str, int],
) -> None:
    """The check pass, run in a thread: its batches and its outcome go to ``handoff``."""
    try:
        check(sources, schema, handoff, done, interrupt=handoff.interrupt, lines=lines)
    except BaseException as exc:
        handoff.end(exc)
        raise
    handoff.end()


class _OverlappedWriter:
    """The write pass of an overlapped import: batches in the order the check pass hands
    them over, a table after another. A table's suspended indexes (PostgreSQL's HNSW) are
    rebuilt in the background while the next table loads."""

    def __init__(
        self,
        store: Store,
        key: str,
        sources: list[Source],
        done: dict[str, tuple[int, int]],
        progress: Callable[[str, int], None] | None,
        report: ImportReport,
    ) -> None:
        self.store, self.key, self.done = store, key, done
        self.progress, self.report = progress, report
        self.sources = {s.label: s for s in sources if _preparable(s)}
        self.counts = {label: done.get(label, (0, 0))[1] for label in self.sources}
        self.current: Source | None = None
        self.begun: list[Source] = []
        self.builds: list[asyncio.Task[None]] = []

    async def write(self, label: str, last: int, rows: list[PreparedRow]) -> None:
        source = self.sources[label]
        if source is not self.current:
            await self._begin(source)
        self.counts[label] = await _write_prepared(
            self.store, self.key, source, rows, last, self.counts[label]
        )
        if self.progress:
            self.progress(source.table, self.counts[label])

    async def _begin(self, source: Source) -> None:
        if self.current is not None:
            self._end(self.current)
        await self.store.begin_bulk_load(source.table)
        self.begun.append(source)
        self.current = source

    def _end(self, source: Source) -> None:
        self.builds.append(asyncio.create_task(_end_load(self.store, source.table, self.report)))

    async def finish(self) -> None:
        """After the last batch: tables that had none (empty, or all written by an
        interrupted run) are recorded as done, and every index is rebuilt."""
        if self.current is not None:
            self._end(self.current)
            self.current = None
        for label, source in self.sources.items():
            if source in self.begun:
                continue
            await self._begin(source)  # an interrupted run may have suspended its index
            if label not in self.done:
                self.counts[label] = await _write_prepared(
                    self.store, self.key, source, [], 0, self.counts[label]
                )
                if self.progress:
                    self.progress(source.table, self.counts[label])
            self._end(source)
            self.current = None
        await self.settle()
        for label, source in self.sources.items():
            self.report.tables[source.table] = self.counts[label]

    async def settle(self, raise_errors: bool = True) -> None:
        """Wait for the index builds under way."""
        builds, self.builds = self.builds, []
        for outcome in await asyncio.gather(*builds, return_exceptions=True):
            if raise_errors and isinstance(outcome, BaseException):
                raise outcome


async def _undo(store: Store, key: str, sources: list[Source], begun: list[Source]) -> None:
    """Empty the tables an overlapped import wrote (they were empty when it began),
    restore the indexes it suspended, and forget its progress."""
    await _clear_tables(store, _written_tables(sources), _component_tables(sources))
    for source in begun:
        await store.end_bulk_load(source.table)
    await store.run(lambda tx: _forget(tx, key))


async def _write_spooled(
    store: Store,
    key: str,
    source: Source,
    spool: Spool,
    done: dict[str, tuple[int, int]],
    progress: Callable[[str, int], None] | None,
    report: ImportReport,
) -> int:
    """Write a source's prepared rows, a spooled batch a transaction."""
    lines, count = done.get(source.label, (0, 0))
    await store.begin_bulk_load(source.table)
    wrote = False
    for last, rows in spool.batches(source.label):
        count = await _write_prepared(store, key, source, rows, last, count)
        wrote = True
        if progress:
            progress(source.table, count)
    if not wrote and source.label not in done:  # an empty table: record it as done
        count = await _write_prepared(store, key, source, [], lines, count)
        if progress:
            progress(source.table, count)
    await _end_load(store, source.table, report)
    return count


async def _end_load(store: Store, table: str, report: ImportReport) -> None:
    """Build what the table's bulk load suspended, and count the time it took."""
    started = time.monotonic()
    await store.end_bulk_load(table)
    report.index_seconds += time.monotonic() - started


async def _write_read(
    store: Store,
    key: str,
    source: Source,
    done: dict[str, tuple[int, int]],
    progress: Callable[[str, int], None] | None,
) -> int:
    """Write a source by reading it again (components, and files that need new ids)."""
    lines, count = done.get(source.label, (0, 0))
    batch: list[tuple[int, dict[str, Any]]] = []
    last = lines
    for n, doc in source.read():
        if n <= lines:
            continue  # committed by an earlier, interrupted run
        batch.append((n, doc))
        last = n
        if len(batch) == BATCH:
            count = await _write(store, key, source, batch, last, count)
            batch = []
            if progress:
                progress(source.table, count)
    if batch or source.label not in done:
        count = await _write(store, key, source, batch, last, count)
        if progress:
            progress(source.table, count)
    return count


async def _forget(tx, key: str) -> None:
    for row in await tx.query(PROGRESS, "byImport", eq={"importKey": key}):
        await tx.delete(row["_id"])


def _vector_sizes(
    sources: Sequence[Source], schema: Schema
) -> Iterator[tuple[str, VectorIndex, int]]:
    """Each vector index of an imported table whose vectors have another size."""
    for source in sources:
        for vindex in _vector_indexes(schema, source.table):
            for _, document in source.read():
                vector = field_value(document, vindex.field)
                if isinstance(vector, list):
                    if len(vector) != vindex.dimensions:
                        yield source.table, vindex, len(vector)
                    break


def fit_schema(schema: Schema, path: str | Path, table: str | None = None) -> Schema:
    """``schema`` with its vector indexes sized to the input's vectors (1536, 1024...).

    Open the store with this one before importing: a store opened with the app's own sizes
    would try to rebuild an index over vectors an earlier, interrupted run already wrote.
    """
    if table is not None:
        sources = [table_file_source(path, table)] if table in schema else []
    else:
        snapshot = Snapshot(path)
        sources = [
            snapshot.source(e) for e in snapshot.entries if not e.prefix and e.table in schema
        ]
    for name, vindex, size in _vector_sizes(sources, schema):
        schema = schema.with_vector_dimensions(name, vindex.name, size)
    return schema


async def _fit_vector_indexes(
    store: Store, resized: Sequence[tuple[str, VectorIndex, int]], report: ImportReport
) -> None:
    """Vector indexes take the dimension of the input's vectors (1536, 1024, 768...)."""
    for table, vindex, size in resized:
        fitted = store.schema.with_vector_dimensions(table, vindex.name, size)
        await store.apply_schema(fitted, store.undeclared)
        report.notes.append(
            f"{table}.{vindex.name}: resized from {vindex.dimensions} to the "
            f"snapshot's {size} dimensions"
        )


async def _progress(tx, key: str) -> dict[str, tuple[int, int]]:
    rows = await tx.query(PROGRESS, "byImport", eq={"importKey": key})
    return {row["table"]: (int(row["lines"]), int(row.get("documents", 0))) for row in rows}


class _NewIds:
    """Ids and creation times for a single-table file's rows that have none."""

    def __init__(self) -> None:
        self.last_ms = 0.0

    def now(self) -> float:
        self.last_ms = max(time.time() * 1000.0, self.last_ms + 0.001)
        return self.last_ms


_new_ids = _NewIds()


def _completed(store: Store, source: Source, docs: list[dict]) -> list[dict]:
    if not source.new_ids:
        return docs
    number = store.table_numbers[source.table]
    out = []
    for doc in docs:
        if "_id" not in doc:
            doc = {**doc, "_id": encode_id(number, new_internal_id())}
        if "_creationTime" not in doc:
            doc = {**doc, "_creationTime": _new_ids.now()}
        out.append(doc)
    return out


async def _write(
    store: Store,
    key: str,
    source: Source,
    batch: list[tuple[int, dict[str, Any]]],
    lines: int,
    count: int,
) -> int:
    docs = _completed(store, source, [doc for _, doc in batch])
    count += len(docs)

    async def body(tx) -> int:
        if source.component:
            await components.insert(tx, source, batch)
        else:
            await tx.insert_many_with_ids(source.table, docs)
        await _set_progress(tx, key, source.label, lines, count)
        return count

    return await store.run(body)


async def _write_prepared(
    store: Store, key: str, source: Source, rows: list[PreparedRow], lines: int, count: int
) -> int:
    count += len(rows)

    async def body(tx) -> int:
        await tx.insert_prepared(source.table, rows)
        await _set_progress(tx, key, source.label, lines, count)
        return count

    return await store.run(body)


async def _set_progress(tx, key: str, label: str, lines: int, documents: int) -> None:
    row = await tx.first(PROGRESS, "byImport", eq={"importKey": key, "table": label})
    fields = {"importKey": key, "table": label, "lines": lines, "documents": documents}
    if row is None:
        await tx.insert(PROGRESS, fields)
    else:
        await tx.patch(row["_id"], fields)


async def _prepare(store: Store, mode: Mode, sources: list[Source], declared: set[str]) -> None:
    """Make room as ``mode`` says, in the tables the database holds (a table the import
    is to make is empty)."""
    importing = {s.table for s in sources if not s.component} & set(store.table_numbers)
    parts = _component_tables(sources)
    if mode == "append":
        return
    if mode == "requireEmpty":
        busy = {t: n for t, n in (await _counts(store, importing, parts)).items() if n}
        if busy:
            raise SnapshotError(
                "the database already has documents in "
                + ", ".join(f"{t} ({n})" for t, n in sorted(busy.items()))
                + "; use --mode replace (those tables), replaceAll (every table) or append"
            )
        return
    await _clear_tables(store, importing if mode == "replace" else declared | importing, parts)


def _component_tables(sources: Sequence[Source]) -> list[tuple[str, str]]:
    return [s.component for s in sources if s.component]


def _with_chunks(tables: set[str]) -> set[str]:
    """File storage's metadata comes with its chunks."""
    return tables | {stored_files.CHUNKS} if stored_files.TABLE in tables else tables


async def _counts(
    store: Store, tables: set[str], parts: Sequence[tuple[str, str]]
) -> dict[str, int]:
    """Documents in each table and component table (by prefix and name)."""

    async def counts(tx) -> dict[str, int]:
        found = {t: await tx.count(t) for t in sorted(tables)}
        for prefix, table in parts:
            found[prefix + table] = await components.count(tx, prefix, table)
        return found

    return await store.read(counts)


async def _clear_tables(store: Store, tables: set[str], parts: Sequence[tuple[str, str]]) -> None:
    for table in sorted(_with_chunks(tables)):
        await store.delete_all(table, BATCH)
    for prefix, table in parts:
        await components.clear(store, prefix, table, BATCH)
