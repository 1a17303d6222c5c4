"""Printing figures in fixed-width columns, a header over them (``smalltown usage``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    title: str
    width: int = 0  # 0: as wide as its text (a last column)
    right: bool = False  # figures line up on the right
    gap: int = 1  # spaces before it (none before the first)


def line(columns: Sequence[Column], cells: Sequence[str]) -> str:
    """One row: each cell padded to its column, the columns apart by their gaps."""
    parts = []
    for i, (column, cell) in enumerate(zip(columns, cells, strict=True)):
        if i:
            parts.append(" " * column.gap)
        parts.append(f"{cell:{'>' if column.right else '<'}{column.width or ''}}")
    return "".join(parts)


def header(columns: Sequence[Column]) -> str:
    return line(columns, [column.title for column in columns])


def blank(column: Column) -> str:
    """A cell left empty, to write a note from the next column on."""
    return " " * column.width
