"""``smalltown import SNAPSHOT.zip``: a Convex snapshot into the store, ids and all.

Two passes over the ZIP, each streaming (memory stays bounded whatever its size):

1. **check**: every entry opens, every line is a JSON object with a valid ``_id`` of its
   table's number and a ``_creationTime``; a bad line is reported with its entry and line
   number, and nothing is written.
2. **write**: tables take the snapshot's numbers (from ``_tables``, else from the first
   ``_id``), then documents go in batches, each batch in one transaction together with
   the import's progress. An interrupted import (even SIGKILL) is finished by running the
   same command again: it resumes after the last committed batch, so no document is
   written twice and none is missed.

Formats: "uniform" (since March 2026: Int64 a bare integer, floats with a decimal point,
``$float``/``$bytes`` objects) and "legacy" (clean JSON: numbers are Float64; the shape
lines of ``generated_schema.jsonl`` are not needed to read it). Tables the app does not
declare, components (``_components/``) and file storage (``_storage``) are reported as
not carried over.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from smalltown.store import InvalidIdError, Schema, Store, StoreError, VectorIndex, decode_id
from smalltown.store.keys import field_value

Mode = Literal["requireEmpty", "append", "replace", "replaceAll"]
MODES = ("requireEmpty", "append", "replace", "replaceAll")
BATCH = 500
PROGRESS = "_smalltown_imports"


class SnapshotError(StoreError):
    """A snapshot that cannot be imported; the message says where and why."""


@dataclass
class ImportReport:
    tables: dict[str, int] = field(default_factory=dict)  # documents written, by table
    notes: list[str] = field(default_factory=list)  # what was not carried over or was adapted
    resumed: bool = False


def _uniform_object(value: dict[str, Any]) -> Any:
    """Called by the JSON parser for every object, innermost first: the typed ones
    (``$float``, ``$bytes``, ``$integer``) become values, so no second walk is needed."""
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key == "$float":
            return struct.unpack("<d", base64.b64decode(inner))[0]
        if key == "$bytes":
            return base64.b64decode(inner)
        if key == "$integer":
            return struct.unpack("<q", base64.b64decode(inner))[0]
    return value


def parse_uniform(line: str | bytes) -> Any:
    """Export JSON: ``1`` is an Int64 and ``1.0`` a Float64, as the parser gives them."""
    return json.loads(line, object_hook=_uniform_object)


def parse_legacy(line: str | bytes) -> Any:
    """Clean JSON: every number is a Float64 (Int64 values were written as strings)."""
    return json.loads(line, parse_int=float)


@dataclass
class _Entry:
    table: str
    name: str  # the ZIP entry
    uniform: bool


class Snapshot:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.zip = zipfile.ZipFile(self.path)  # reads the central directory
        except (zipfile.BadZipFile, OSError) as exc:
            raise SnapshotError(f"{self.path}: not a readable ZIP file ({exc})") from exc
        names = set(self.zip.namelist())
        self.numbers: dict[str, int] = {}
        if "_tables/documents.jsonl" in names:
            for n, line in enumerate(self._lines("_tables/documents.jsonl"), 1):
                row = self._json(line, "_tables/documents.jsonl", n)
                self.numbers[row["name"]] = int(row["id"])
        self.entries: list[_Entry] = []
        self.skipped: list[str] = []
        for name in sorted(names):
            if not name.endswith("/documents.jsonl") or name.startswith("_tables/"):
                continue
            table = name[: -len("/documents.jsonl")]
            if table.startswith("_components/"):
                self.skipped.append(f"{table}: component tables are not imported yet")
                continue
            if table.startswith("_"):
                self.skipped.append(f"{table}: system table (file storage is not imported yet)")
                continue
            schema_entry = f"{table}/generated_schema.jsonl"
            uniform = True
            if schema_entry in names:
                first = next(iter(self._lines(schema_entry)), '"uniform"')
                uniform = first.strip() == '"uniform"'
            self.entries.append(_Entry(table, name, uniform))

    def key(self) -> str:
        """Identifies this snapshot's content (from the ZIP's own checksums)."""
        digest = hashlib.sha256()
        for info in sorted(self.zip.infolist(), key=lambda i: i.filename):
            digest.update(f"{info.filename}:{info.CRC}:{info.file_size};".encode())
        return digest.hexdigest()

    def _lines(self, entry: str) -> Iterator[str]:
        try:
            with self.zip.open(entry) as raw:
                for line in raw:
                    if line.strip():
                        yield line.decode()
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
            raise SnapshotError(f"{self.path}: entry {entry} is damaged ({exc})") from exc
        except UnicodeDecodeError as exc:
            raise SnapshotError(f"{entry}: not UTF-8 text ({exc})") from exc

    @staticmethod
    def _json(line: str, entry: str, n: int, parse: Callable[[str], Any] = json.loads) -> dict:
        try:
            value = parse(line)
        except (ValueError, TypeError, struct.error) as exc:
            raise SnapshotError(f"{entry} line {n}: not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise SnapshotError(f"{entry} line {n}: a document must be a JSON object")
        return value

    def documents(self, entry: _Entry) -> Iterator[tuple[int, dict[str, Any]]]:
        parse = parse_uniform if entry.uniform else parse_legacy
        for n, line in enumerate(self._lines(entry.name), 1):
            yield n, self._json(line, entry.name, n, parse)


def check(snapshot: Snapshot, tables: set[str]) -> dict[str, int]:
    """The first pass: every line readable and every id of its table. Returns each
    imported table's number."""
    numbers: dict[str, int] = {}
    for entry in snapshot.entries:
        if entry.table not in tables:
            continue
        expected = snapshot.numbers.get(entry.table)
        for n, doc in snapshot.documents(entry):
            where = f"{entry.name} line {n}"
            try:
                number, _ = decode_id(doc.get("_id"))
            except InvalidIdError as exc:
                raise SnapshotError(f"{where}: {exc}") from None
            if expected is None:
                expected = number  # no _tables entry: the first id says
            if number != expected:
                raise SnapshotError(
                    f"{where}: id {doc['_id']} belongs to table number {number}, but "
                    f"{entry.table} is number {expected}"
                )
            if not isinstance(doc.get("_creationTime"), (int, float)):
                raise SnapshotError(f"{where}: _creationTime must be a number")
        if expected is not None:
            numbers[entry.table] = expected
    return numbers


async def import_zip(
    store: Store,
    path: str | Path,
    mode: Mode = "requireEmpty",
    progress: Callable[[str, int], None] | None = None,
) -> ImportReport:
    if mode not in MODES:
        raise SnapshotError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    snapshot = Snapshot(path)
    report = ImportReport(notes=list(snapshot.skipped))
    declared = {t for t in store.table_numbers if not t.startswith("_")}
    for entry in snapshot.entries:
        if entry.table not in declared:
            report.notes.append(f"{entry.table}: the app does not declare this table")
    numbers = check(snapshot, declared)
    key = snapshot.key()
    done = await store.read(lambda tx: _progress(tx, key))
    report.resumed = bool(done)
    if not done:
        await _prepare(store, mode, set(numbers), declared)
        await store.set_table_numbers(numbers)
    await _fit_vector_indexes(store, snapshot, report)  # resumed runs too
    for entry in snapshot.entries:
        if entry.table not in numbers:
            continue
        written = done.get(entry.table, 0)
        batch: list[dict[str, Any]] = []
        for n, doc in snapshot.documents(entry):
            if n <= written:
                continue  # committed by an earlier, interrupted run
            batch.append(doc)
            if len(batch) == BATCH:
                written = await _write(store, key, entry.table, batch, n)
                batch = []
                if progress:
                    progress(entry.table, written)
        if batch or entry.table not in done:
            last = written + len(batch)
            written = await _write(store, key, entry.table, batch, last)
            if progress:
                progress(entry.table, written)
        report.tables[entry.table] = written
    await store.run(lambda tx: _forget(tx, key))  # finished: the next run starts afresh
    return report


async def _forget(tx, key: str) -> None:
    for row in await tx.query(PROGRESS, "byImport", eq={"importKey": key}):
        await tx.delete(row["_id"])


def _vector_sizes(snapshot: Snapshot, schema: Schema) -> Iterator[tuple[str, VectorIndex, int]]:
    """Each vector index of an imported table whose snapshot vectors have another size."""
    for entry in snapshot.entries:
        if entry.table not in schema:
            continue
        for vindex in schema.table(entry.table).vector_indexes:
            for _, document in snapshot.documents(entry):
                vector = field_value(document, vindex.field)
                if isinstance(vector, list):
                    if len(vector) != vindex.dimensions:
                        yield entry.table, vindex, len(vector)
                    break


def fit_schema(schema: Schema, path: str | Path) -> Schema:
    """``schema`` with its vector indexes sized to the snapshot's vectors (1536, 1024...).

    Open the store with this one before importing: a store opened with the app's own sizes
    would try to rebuild an index over vectors an earlier, interrupted run already wrote.
    """
    for table, vindex, size in _vector_sizes(Snapshot(path), schema):
        schema = schema.with_vector_dimensions(table, vindex.name, size)
    return schema


async def _fit_vector_indexes(store: Store, snapshot: Snapshot, report: ImportReport) -> None:
    """Vector indexes take the dimension of the snapshot's vectors (1536, 1024, 768...)."""
    for table, vindex, size in list(_vector_sizes(snapshot, store.schema)):
        await store.apply_schema(store.schema.with_vector_dimensions(table, vindex.name, size))
        report.notes.append(
            f"{table}.{vindex.name}: resized from {vindex.dimensions} to the "
            f"snapshot's {size} dimensions"
        )


async def _progress(tx, key: str) -> dict[str, int]:
    rows = await tx.query(PROGRESS, "byImport", eq={"importKey": key})
    return {row["table"]: int(row["lines"]) for row in rows}


async def _write(store: Store, key: str, table: str, docs: list[dict], lines: int) -> int:
    async def body(tx) -> int:
        await tx.insert_many_with_ids(table, docs)
        row = await tx.first(PROGRESS, "byImport", eq={"importKey": key, "table": table})
        if row is None:
            await tx.insert(PROGRESS, {"importKey": key, "table": table, "lines": lines})
        else:
            await tx.patch(row["_id"], {"lines": lines})
        return lines

    return await store.run(body)


async def _prepare(store: Store, mode: Mode, importing: set[str], declared: set[str]) -> None:
    if mode == "append":
        return
    if mode == "requireEmpty":

        async def counts(tx):
            return {t: await tx.count(t) for t in importing}

        busy = {t: n for t, n in (await store.read(counts)).items() if n}
        if busy:
            raise SnapshotError(
                "the database already has documents in "
                + ", ".join(f"{t} ({n})" for t, n in sorted(busy.items()))
                + "; use --mode replace (those tables), replaceAll (every table) or append"
            )
        return
    for table in sorted(importing if mode == "replace" else declared):
        while True:

            async def clear(tx, table=table) -> int:
                docs = await tx.query(table, limit=BATCH)
                for doc in docs:
                    await tx.delete(doc["_id"])
                return len(docs)

            if not await store.run(clear):
                break
