"""Reading a Convex snapshot ZIP: its tables, their numbers, and their documents.

Entries: ``_tables/documents.jsonl`` (``{"name", "id"}`` per table), ``<table>/documents.jsonl``
and ``<table>/generated_schema.jsonl`` per table, components under
``_components/<name>/`` with the same layout (nesting repeats), and file storage under
``_storage/``. Entries are streamed: a snapshot of any size is read in bounded memory.

Formats: "uniform" (since March 2026: Int64 a bare integer, floats with a decimal point,
``$float``/``$bytes`` objects) and "legacy" (clean JSON: numbers are Float64, with
the table's shape and per-document type overrides in ``generated_schema.jsonl``, see
``legacy.py`` and ``shape.py``).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from smalltown.migrate.legacy import LegacyTypes, read_shape
from smalltown.migrate.shape import Shape
from smalltown.migrate.source import (
    Documents,
    SnapshotError,
    Source,
    parse_document,
    parse_uniform,
)

TABLES = "_tables/documents.jsonl"
COMPONENTS = "_components/"
STORAGE = "_storage/"
READ_BLOCK = 1 << 20  # bytes of an entry read at a time


@dataclass(frozen=True)
class Entry:
    """One table of the snapshot: ``prefix`` is ``""`` for the app's own tables and
    ``_components/<name>/`` (nesting repeats) for a component's."""

    prefix: str
    table: str
    uniform: bool

    @property
    def name(self) -> str:
        return f"{self.prefix}{self.table}/documents.jsonl"

    @property
    def schema_name(self) -> str:
        return f"{self.prefix}{self.table}/generated_schema.jsonl"


class Snapshot:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.zip = zipfile.ZipFile(self.path)  # reads the central directory
        except (zipfile.BadZipFile, OSError) as exc:
            raise SnapshotError(f"{self.path}: not a readable ZIP file ({exc})") from exc
        self.names = set(self.zip.namelist())
        #: per prefix, each table's number from that level's ``_tables``
        self.numbers: dict[str, dict[str, int]] = {}
        self.entries: list[Entry] = []
        #: what no import brings in: system tables (``_scheduled_functions``...) at any
        #: level, and the ZIP prefixes of components whose stored files the snapshot holds
        self.system_tables: list[Entry] = []
        self.component_files: list[str] = []
        #: what was adapted on the way (a legacy shape's parts kept as read)
        self.notes: list[str] = []
        self._shapes: dict[str, Shape] = {}
        for name in sorted(self.names):
            if name.endswith(TABLES):
                prefix = name[: -len(TABLES)]
                if _is_level(prefix):
                    self.numbers[prefix] = self._numbers(name)
                continue
            if not name.endswith("/documents.jsonl"):
                continue
            prefix, _, table = name[: -len("/documents.jsonl")].rpartition("/")
            prefix = f"{prefix}/" if prefix else ""
            if not _is_level(prefix) or table == "_storage":
                if table == "_storage" and _is_level(prefix) and prefix:
                    self.component_files.append(prefix)
                continue
            if table.startswith("_"):
                self.system_tables.append(Entry(prefix, table, True))
                continue
            self.entries.append(Entry(prefix, table, self.is_uniform(prefix, table)))
        legacy = [e.schema_name for e in self.entries if not e.uniform]
        if f"{STORAGE}documents.jsonl" in self.names and not self.is_uniform("", "_storage"):
            legacy.append(f"{STORAGE}generated_schema.jsonl")
        for name in legacy:  # read now, so their notes are known before the import starts
            self.shape(name)

    def key(self) -> str:
        """Identifies this snapshot's content (from the ZIP's own checksums)."""
        digest = hashlib.sha256()
        for info in sorted(self.zip.infolist(), key=lambda i: i.filename):
            digest.update(f"{info.filename}:{info.CRC}:{info.file_size};".encode())
        return digest.hexdigest()

    def source(self, entry: Entry, table: str | None = None) -> Source:
        """The entry's documents, for the store table ``table`` (default: its own name)."""
        return Source(
            table=table or entry.table,
            label=entry.name,
            read=lambda: self.documents(entry),
            number=self.numbers.get(entry.prefix, {}).get(entry.table),
            lines=(lambda: self.lines(entry.name)) if entry.uniform else None,
        )

    def documents(self, entry: Entry) -> Documents:
        if entry.uniform:
            for n, line in self.lines(entry.name):
                yield n, parse_document(line, f"{entry.name} line {n}", parse_uniform)
            return
        types = LegacyTypes.read(
            self.lines(entry.schema_name), entry.schema_name, self.shape(entry.schema_name)
        )
        for n, line in self.lines(entry.name):
            yield n, types.document(line, f"{entry.name} line {n}")

    def count_lines(self, entry: str) -> int:
        """How many documents (non-blank lines) an entry holds, read through once."""
        return sum(1 for _ in self.lines(entry))

    def stored_files(self, prefix: str = "") -> int:
        """How many stored files (``<prefix>_storage/<id>``) the snapshot holds."""
        folder = f"{prefix}{STORAGE}"
        return sum(
            1
            for name in self.names
            if name.startswith(folder)
            and "/" not in name[len(folder) :]
            and not name.endswith(".jsonl")
        )

    def lines(self, entry: str) -> Iterator[tuple[int, bytes]]:
        """The entry's non-blank lines with their line numbers, streamed."""
        if entry not in self.names:
            return
        try:
            with self.zip.open(entry) as raw:
                yield from _numbered_lines(raw)
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
            raise SnapshotError(f"{self.path}: entry {entry} is damaged ({exc})") from exc

    def open(self, entry: str):
        """A file entry (file storage), for streaming."""
        try:
            return self.zip.open(entry)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise SnapshotError(f"{self.path}: entry {entry} cannot be read ({exc})") from exc

    def _numbers(self, name: str) -> dict[str, int]:
        numbers = {}
        for n, line in self.lines(name):
            row = parse_document(line, f"{name} line {n}", json.loads)
            if not isinstance(row.get("name"), str) or not isinstance(row.get("id"), int):
                raise SnapshotError(f"{name} line {n}: expected {{'name': ..., 'id': number}}")
            numbers[row["name"]] = row["id"]
        return numbers

    def is_uniform(self, prefix: str, table: str) -> bool:
        line = self._first_line(f"{prefix}{table}/generated_schema.jsonl")
        return line is None or line.strip() == b'"uniform"'  # no schema entry: today's exports

    def shape(self, schema_name: str) -> Shape:
        """A legacy table's shape, from its schema entry's first line (parsed once)."""
        if schema_name not in self._shapes:
            shape, note = read_shape(self._first_line(schema_name), schema_name)
            self._shapes[schema_name] = shape
            if note:
                self.notes.append(note)
        return self._shapes[schema_name]

    def _first_line(self, entry: str) -> bytes | None:
        for n, line in self.lines(entry):
            return line if n == 1 else None
        return None


def _numbered_lines(raw: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of ``raw`` (without their ``\n``), numbered from 1 as every
    line counts. Read a block at a time: iterating a ZIP entry line by line runs Python
    code for each line, a few times slower."""
    n = 0
    pending: list[bytes] = []  # the start of a line longer than what was read so far
    while block := raw.read(READ_BLOCK):
        lines = block.split(b"\n")
        if len(lines) == 1:
            pending.append(block)
            continue
        if pending:
            lines[0] = b"".join([*pending, lines[0]])
        pending = [lines.pop()]
        for line in lines:
            n += 1
            if line and not line.isspace():
                yield n, line
    last = b"".join(pending)
    if last and not last.isspace():
        yield n + 1, last


def _is_level(prefix: str) -> bool:
    """Whether ``prefix`` is the app (``""``) or a component (``_components/a/`` and
    nested ``_components/a/_components/b/``), not some other folder."""
    parts = prefix.split("/")[:-1]
    return len(parts) % 2 == 0 and all(p == "_components" for p in parts[::2])


def component_name(prefix: str) -> str:
    """``_components/a/_components/b/`` → ``a/b``."""
    return "/".join(prefix.split("/")[:-1][1::2])
