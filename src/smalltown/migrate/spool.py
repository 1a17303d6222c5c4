"""The check pass's prepared rows, kept on disk until the write pass takes them.

Parsing and encoding a document (an embedding's floats above all) is most of an import's
work; the check pass does it once and writes the result here, so the write pass only
reads rows back and sends them to the database. Memory stays at one batch; the file is
an unnamed temporary one, so it vanishes with the process, even on SIGKILL.

Batches are ``marshal``-ed tuples: fast, and safe here because the import made them
(in this process, or in one of its checking processes, see ``parallel_check.py``).
Each is written and read as one block of known length: ``marshal.load`` on a file object
reads it a few bytes at a time, several times slower.
"""

from __future__ import annotations

import functools
import marshal
import tempfile
from collections.abc import Iterator
from typing import Protocol

import numpy as np

from smalltown.store.base import PreparedRow, VectorEntry

Batch = tuple[int, list[PreparedRow]]  # the last input line it holds, its rows


class BatchSink(Protocol):
    """Where the check pass puts prepared batches: the spool, or the hand-off to a writer
    that runs beside it (``handoff.py``)."""

    def add(self, label: str, last_line: int, rows: list[PreparedRow]) -> None: ...
    def add_packed(self, label: str, data: bytes) -> None: ...
    def forget(self, label: str) -> None: ...


def carry_on() -> None:
    """The check pass's ``interrupt`` when nothing can stop it early."""


class Spool:
    def __init__(self) -> None:
        # Closed by close() or the with block: it lives as long as the import does.
        self._file = tempfile.TemporaryFile(prefix="smalltown-import-")  # noqa: SIM115
        self._spans: dict[str, list[tuple[int, int]]] = {}  # label -> (offset, size) a batch

    def add(self, label: str, last_line: int, rows: list[PreparedRow]) -> None:
        """Append a batch of ``label``'s rows (batches of one label come in order)."""
        self.add_packed(label, pack_batch(last_line, rows))

    def add_packed(self, label: str, data: bytes) -> None:
        """Append a batch ``pack_batch`` made (in this process or a checking one)."""
        self._spans.setdefault(label, []).append((self._file.tell(), len(data)))
        self._file.write(data)

    def batches(self, label: str) -> Iterator[Batch]:
        """``label``'s batches, in the order they were added."""
        for offset, size in self._spans.get(label, []):
            self._file.seek(offset)
            last_line, packed = marshal.loads(self._file.read(size))
            yield last_line, unpack_rows(packed)
        self._file.seek(0, 2)  # back to the end, for any later add()

    def forget(self, label: str) -> None:
        """Drop ``label``'s batches (their bytes stay in the file until it is closed)."""
        self._spans.pop(label, None)

    def has(self, label: str) -> bool:
        return label in self._spans

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pack_batch(last_line: int, rows: list[PreparedRow]) -> bytes:
    """A batch as the spool stores it."""
    return marshal.dumps((last_line, [_pack(row) for row in rows]))


# A packed row without vectors has PreparedRow's fields in order: it becomes one in C
# (``PreparedRow._make`` is a Python call a row, a tenth of the write pass's own work).
_as_row = functools.partial(tuple.__new__, PreparedRow)


def unpack_rows(packed: list[tuple]) -> list[PreparedRow]:
    """A batch's rows as ``pack_batch`` packed them."""
    return [_unpack(row) if row[5] else _as_row(row) for row in packed]  # [5]: vectors


def _pack(row: PreparedRow) -> tuple:
    vectors = (
        {name: (e.vector.tobytes(), e.filters) for name, e in row.vectors.items()}
        if row.vectors
        else {}  # (most rows: no comprehension to run)
    )
    return (row.id, row.number, row.creation_time, row.encoded, row.keys, vectors)


def _unpack(packed: tuple) -> PreparedRow:
    id, number, ct, encoded, keys, vectors = packed
    entries = {
        name: VectorEntry(np.frombuffer(data, dtype=np.float32), filters)
        for name, (data, filters) in vectors.items()
    }
    return PreparedRow(id, number, ct, encoded, keys, entries)
