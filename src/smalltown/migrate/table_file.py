"""``smalltown import --table NAME FILE``: one table from a JSONL, JSON or CSV file.

The rules are ``npx convex import --table``'s:

- ``.jsonl``: one JSON object per line (blank lines are skipped);
- ``.json``: one top-level array of objects, at most 8 MiB (larger: use JSONL);
- ``.csv``: a header row naming the fields, then one document per row; a cell that reads
  as a number (``12``, ``-0.5``, ``1e3``) is a Float64, any other cell a string.

JSON numbers are Float64, as JavaScript reads them; ``{"$integer": ...}``, ``{"$bytes": ...}``
and ``{"$float": ...}`` give the other types. A row with ``_id`` keeps it (its table number
must be the table's); a row without one gets a new id, and ``_creationTime`` when it has
none. Files are streamed (JSON arrays excepted), so memory stays bounded.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from smalltown.migrate.source import (
    Documents,
    SnapshotError,
    Source,
    parse_document,
    parse_float_numbers,
    typed_object,
)

JSON_ARRAY_LIMIT = 8 * 1024 * 1024
FORMATS = (".jsonl", ".json", ".csv")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def table_file_source(path: str | Path, table: str) -> Source:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SnapshotError(
            f"{path}: cannot tell the format; name the file .jsonl, .json or .csv "
            "(or .zip for a whole snapshot)"
        )
    if not path.is_file():
        raise SnapshotError(f"{path}: no such file")
    read = {".jsonl": _jsonl, ".json": _json_array, ".csv": _csv}[suffix]
    return Source(table=table, label=path.name, read=lambda: read(path), new_ids=True)


def file_key(path: str | Path, table: str) -> str:
    """Identifies this file's content and target, so an interrupted import resumes."""
    digest = hashlib.sha256(f"table:{table};".encode())
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _jsonl(path: Path) -> Documents:
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                yield n, parse_document(line, f"{path.name} line {n}", parse_float_numbers)


def _json_array(path: Path) -> Documents:
    if path.stat().st_size > JSON_ARRAY_LIMIT:
        raise SnapshotError(
            f"{path.name}: a JSON array file may hold at most 8 MiB; convert it to JSONL "
            "(one object per line, e.g. jq -c '.[]' data.json > data.jsonl)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{path.name}: not UTF-8 text ({exc})") from None
    decoder = json.JSONDecoder(parse_int=float, object_hook=typed_object)
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        raise SnapshotError(f"{path.name} line {_line(text, pos)}: expected a JSON array")
    pos = _skip_space(text, pos + 1)
    if text.startswith("]", pos):
        _expect_end(text, pos + 1, path.name)
        return
    while True:
        where = f"{path.name} line {_line(text, pos)}"
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, TypeError) as exc:
            raise SnapshotError(f"{where}: not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise SnapshotError(f"{where}: each element must be a JSON object")
        yield _line(text, pos), value
        pos = _skip_space(text, pos)
        if text.startswith("]", pos):
            _expect_end(text, pos + 1, path.name)
            return
        if not text.startswith(",", pos):
            raise SnapshotError(
                f"{path.name} line {_line(text, pos)}: expected ',' or ']' in the array"
            )
        pos = _skip_space(text, pos + 1)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _expect_end(text: str, pos: int, name: str) -> None:
    pos = _skip_space(text, pos)
    if pos != len(text):
        raise SnapshotError(f"{name} line {_line(text, pos)}: text after the array")


def _csv(path: Path) -> Documents:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise SnapshotError(f"{path.name}: empty file; a CSV file needs a header row")
            if len(set(header)) != len(header) or not all(header):
                raise SnapshotError(f"{path.name} line 1: header names must be unique, non-empty")
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise SnapshotError(
                        f"{path.name} line {reader.line_num}: {len(row)} values for "
                        f"{len(header)} columns"
                    )
                yield reader.line_num, {k: _cell(v) for k, v in zip(header, row, strict=True)}
    except csv.Error as exc:
        raise SnapshotError(f"{path.name}: not valid CSV ({exc})") from None
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{path.name}: not UTF-8 text ({exc})") from None


def _cell(text: str) -> Any:
    return float(text) if _NUMBER.fullmatch(text) else text
