"""Legacy snapshots (before March 2026): clean JSON plus per-document type overrides.

Clean JSON loses types: an Int64 is a decimal string (``"5"``), bytes a base64 string,
±Infinity the strings ``"Infinity"``/``"-Infinity"`` and NaN ``"NaN"``; every JSON number
is a Float64. Line 1 of a table's ``generated_schema.jsonl`` is the table's inferred shape;
each further line ``{"<id>": <hint>}`` restores the types of one document, where a hint is
``"infer"`` (keep as read), ``"int64"``, ``"bytes"``, ``"float64inf"``,
``{"$float64NaN": base64 of 8 bytes}``, a list of hints (one per array element) or an
object of hints (per field). Hints are kept in memory: only documents whose shape was
ambiguous have one.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Iterable
from typing import Any

from smalltown.migrate.source import SnapshotError, parse_document

_INFINITIES = {"Infinity": math.inf, "-Infinity": -math.inf}


def _float_numbers(text: str | bytes) -> Any:
    return json.loads(text, parse_int=float)


class LegacyTypes:
    def __init__(self, shape: str | None, hints: dict[str, Any]) -> None:
        self.shape = shape
        self.hints = hints

    @classmethod
    def read(cls, lines: Iterable[tuple[int, bytes]], entry: str) -> LegacyTypes:
        shape: str | None = None
        hints: dict[str, Any] = {}
        for n, line in lines:
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise SnapshotError(f"{entry} line {n}: not JSON ({exc})") from None
            if n == 1 and isinstance(value, str):
                shape = value
            elif isinstance(value, dict):
                hints.update(value)
            else:
                raise SnapshotError(f"{entry} line {n}: expected {{document id: type hint}}")
        return cls(shape, hints)

    def document(self, line: bytes, where: str) -> dict[str, Any]:
        doc = parse_document(line, where, _float_numbers)
        hint = self.hints.get(doc.get("_id")) if isinstance(doc.get("_id"), str) else None
        if hint is None:
            return doc
        try:
            return apply_hint(doc, hint)
        except (ValueError, TypeError, KeyError, binascii.Error, struct.error) as exc:
            raise SnapshotError(f"{where}: its type hint does not fit ({exc})") from None


def apply_hint(value: Any, hint: Any) -> Any:
    """``value`` as clean JSON gave it, with the types ``hint`` restores."""
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
        return [apply_hint(v, h) for v, h in zip(value, hint, strict=True)]
    if isinstance(hint, dict):
        if not isinstance(value, dict):
            raise ValueError("an object hint needs an object")
        return {k: apply_hint(v, hint[k]) if k in hint else v for k, v in value.items()}
    raise ValueError(f"unknown type hint {hint!r} (sets and maps are not supported)")


def _string(value: Any, hint: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"a {hint} hint needs a string, got {value!r}")
    return value
