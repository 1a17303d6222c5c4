"""What an import reads: one table's documents at a time, from a ZIP entry or a file.

A :class:`Source` can be read any number of times from the start (the import reads it
once to check and once to write), yields ``(line number, document)`` pairs and raises
:class:`SnapshotError` naming the file and line for anything unreadable.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from smalltown.migrate.typed import typed_object
from smalltown.migrate.uniform_json import parse_uniform
from smalltown.store import StoreError
from smalltown.store.validators import DocumentMismatchError

__all__ = [
    "Documents",
    "MismatchError",
    "SnapshotError",
    "Source",
    "parse_document",
    "parse_float_numbers",
    "parse_uniform",
    "typed_object",
]


class SnapshotError(StoreError):
    """Input that cannot be imported; the message says where and why."""


class MismatchError(SnapshotError):
    """A document that does not fit its declared table's validator: ``table``, ``id`` and
    ``field`` say which (the message, where in the snapshot too)."""

    def __init__(self, message: str, table: str, id: str | None, field: str) -> None:
        super().__init__(message)
        self.table, self.id, self.field = table, id, field

    def __reduce__(self) -> tuple[type, tuple[str, str, str | None, str]]:
        # Raised in checking processes too: rebuilt from these, not from ``args``.
        return type(self), (str(self), self.table, self.id, self.field)


def bad_line(where: str, exc: Exception) -> SnapshotError:
    """The error for a line whose document the store refused (``exc``)."""
    if isinstance(exc, DocumentMismatchError):
        return MismatchError(f"{where}: {exc}", exc.table, exc.id, exc.field)
    return SnapshotError(f"{where}: {exc}")


Documents = Iterator[tuple[int, dict[str, Any]]]


@dataclass
class Source:
    table: str  # the store table the documents go to
    label: str  # the ZIP entry or file, for messages and for the import's progress
    read: Callable[[], Documents]
    number: int | None = None  # the table number ids carry (None: the first _id says)
    new_ids: bool = False  # documents without _id get a new one (single-table files)
    component: tuple[str, str] | None = None  # (ZIP prefix, table) of a component's table
    verify: Callable[[str, dict[str, Any]], None] | None = None  # more checks, first pass only
    #: a uniform entry's raw lines: ``read`` parses exactly these with ``parse_uniform``,
    #: and their text is often the body's stored JSON already (``stored_text.py``)
    lines: Callable[[], Iterator[tuple[int, bytes]]] | None = None

    def documents(self) -> Iterator[tuple[int, dict[str, Any], bytes | None]]:
        """``read``'s documents, each with its raw line when the source has ``lines``."""
        if self.lines is None:
            for n, doc in self.read():
                yield n, doc, None
            return
        for n, line in self.lines():
            yield n, parse_document(line, f"{self.label} line {n}", parse_uniform), line


def parse_float_numbers(line: str | bytes) -> Any:
    """JSON as JavaScript reads it: every number is a Float64 (legacy snapshots, and
    single-table files); ``$integer``/``$bytes``/``$float`` objects still give their type."""
    return json.loads(line, parse_int=float, object_hook=typed_object)


def parse_document(
    text: str | bytes, where: str, parse: Callable[[str | bytes], Any]
) -> dict[str, Any]:
    try:
        value = parse(text)
    except (ValueError, TypeError, struct.error) as exc:
        raise SnapshotError(f"{where}: not JSON ({exc})") from None
    except RecursionError:
        raise SnapshotError(f"{where}: not JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise SnapshotError(f"{where}: a document must be a JSON object")
    return value
