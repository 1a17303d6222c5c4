"""Legacy snapshots (before March 2026): clean JSON plus per-document type overrides.

Clean JSON loses types: an Int64 is a decimal string (``"5"``), bytes a base64 string,
±Infinity the strings ``"Infinity"``/``"-Infinity"`` and NaN ``"NaN"``; every JSON number
is a Float64. Line 1 of a table's ``generated_schema.jsonl`` is the table's inferred shape
(``shape.py``), which restores the types every document of the table shares; each further
line ``{"<id>": <hint>}`` restores the types of one document, where a hint is
``"infer"`` (keep as read), ``"int64"``, ``"bytes"``, ``"float64inf"``,
``{"$float64NaN": base64 of 8 bytes}``, a list of hints (one per array element) or an
object of hints (per field). Hints are kept in memory: only documents whose shape was
ambiguous have one. Where a document has a hint, the hint wins over the shape; the fields
and elements it does not name still follow the shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Iterable
from typing import Any

from smalltown.migrate.shape import (
    ANY,
    Mismatch,
    Parsed,
    Shape,
    ShapeSyntaxError,
    parse_shape,
    restore,
)
from smalltown.migrate.source import SnapshotError, parse_document

_INFINITIES = {"Infinity": math.inf, "-Infinity": -math.inf}


def _float_numbers(text: str | bytes) -> Any:
    return json.loads(text, parse_int=float)


def read_shape(line: bytes | None, entry: str) -> tuple[Shape, str | None]:
    """The shape a legacy schema entry's first line gives (``any`` when there is none),
    and a note when part of it could not be read and is kept as read."""
    if line is None:
        return ANY, None
    try:
        text = json.loads(line)
    except ValueError:
        return ANY, None  # not a shape line: LegacyTypes.read reports the bad JSON
    if not isinstance(text, str):
        return ANY, None  # the file starts with hints
    try:
        parsed: Parsed = parse_shape(text)
    except ShapeSyntaxError as exc:
        return ANY, f"{entry}: the shape line could not be read ({exc}); values kept as read"
    if parsed.unknown:
        names = ", ".join(parsed.unknown)
        return parsed.shape, f"{entry}: shape types not known ({names}) kept as read"
    return parsed.shape, None


class LegacyTypes:
    def __init__(self, hints: dict[str, Any], shape: Shape = ANY) -> None:
        self.hints = hints
        self.shape = shape

    @classmethod
    def read(
        cls, lines: Iterable[tuple[int, bytes]], entry: str, shape: Shape = ANY
    ) -> LegacyTypes:
        """The hints of a schema entry's lines (line 1, the shape, is skipped: it comes
        parsed as ``shape``)."""
        hints: dict[str, Any] = {}
        for n, line in lines:
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise SnapshotError(f"{entry} line {n}: not JSON ({exc})") from None
            if n == 1 and isinstance(value, str):
                continue
            if isinstance(value, dict):
                hints.update(value)
            else:
                raise SnapshotError(f"{entry} line {n}: expected {{document id: type hint}}")
        return cls(hints, shape)

    def document(self, line: bytes, where: str) -> dict[str, Any]:
        doc = parse_document(line, where, _float_numbers)
        id = doc.get("_id")
        hint = self.hints.get(id) if isinstance(id, str) else None
        try:
            if hint is None:
                return restore(doc, self.shape) if self.shape.work else doc
            return apply_hint(doc, hint, self.shape)
        except Mismatch as exc:
            raise SnapshotError(f"{where}: does not fit its table's shape ({exc})") from None
        except (ValueError, TypeError, KeyError, binascii.Error, struct.error) as exc:
            raise SnapshotError(f"{where}: its type hint does not fit ({exc})") from None


def apply_hint(value: Any, hint: Any, shape: Shape = ANY) -> Any:
    """``value`` as clean JSON gave it, with the types ``hint`` restores; what an object or
    array hint does not name follows ``shape``."""
    if hint == "infer":
        return value
    if hint == "int64":
        return int(_string(value, hint))
    if hint == "bytes":
        return base64.b64decode(_string(value, hint), validate=True)
    if hint == "float64inf":
        return _INFINITIES[_string(value, hint)]
    if isinstance(hint, dict) and set(hint) == {"$float64NaN"}:
        if value != "NaN":
            raise ValueError(f"expected 'NaN', got {value!r}")
        nan = struct.unpack("<d", base64.b64decode(hint["$float64NaN"], validate=True))[0]
        if not math.isnan(nan):
            raise ValueError("the NaN hint holds a number")
        return nan
    if isinstance(hint, list):
        if not isinstance(value, list) or len(value) != len(hint):
            raise ValueError("an array hint needs an array of the same length")
        inner = _element_shape(shape)
        return [apply_hint(v, h, inner) for v, h in zip(value, hint, strict=True)]
    if isinstance(hint, dict):
        if not isinstance(value, dict):
            raise ValueError("an object hint needs an object")
        return {
            k: apply_hint(v, hint[k], _field_shape(shape, k))
            if k in hint
            else _shaped_at(k, v, _field_shape(shape, k))
            for k, v in value.items()
        }
    raise ValueError(f"unknown type hint {hint!r} (sets and maps are not supported)")


def _field_shape(shape: Shape, name: str) -> Shape:
    """The shape of field ``name`` inside ``shape``: of the object, or of the one object
    of a union that has such a field (``any`` when none or several do)."""
    if shape.kind == "object":
        return shape.field_shape(name) or ANY
    if shape.kind == "record":
        return shape.items[1]
    if shape.kind == "union":
        found = [f for m in shape.items if m.kind == "object" and (f := m.field_shape(name))]
        if len(found) == 1:
            return found[0]
    return ANY


def _element_shape(shape: Shape) -> Shape:
    if shape.kind == "array":
        return shape.items[0]
    if shape.kind == "union":
        found = [m.items[0] for m in shape.items if m.kind == "array"]
        if len(found) == 1:
            return found[0]
    return ANY


def _shaped_at(key: str, value: Any, shape: Shape) -> Any:
    try:
        return restore(value, shape)
    except Mismatch as exc:
        exc.path.insert(0, key)
        raise


def _string(value: Any, hint: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"a {hint} hint needs a string, got {value!r}")
    return value
