"""Convex values on the wire: "convex encoded JSON" and the "clean" JSON of ``format=json``.

Encoded JSON keeps every type: a JSON number is always a Float64 (written with a decimal
point, which the official Python client insists on); Int64 is ``{"$integer": base64 of 8
little-endian bytes}``; bytes ``{"$bytes": ...}``; NaN, ±infinity and -0.0
``{"$float": ...}``. Clean JSON writes Int64 as a decimal string and bytes as base64.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

from smalltown.store.values import INT64_MAX, INT64_MIN


class WireFormatError(ValueError):
    """A value that is not valid convex encoded JSON; the message names where."""


def decode(value: Any, path: str = "args") -> Any:
    """Python value from parsed convex encoded JSON."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # a JSON integer of 309 digits or more
            digits = len(str(abs(value)))
            raise WireFormatError(
                f"{path}: a number of {digits} digits does not fit in a Float64"
            ) from None
    if isinstance(value, list):
        return [decode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "$integer":
                return _int64(inner, path)
            if key == "$float":
                return struct.unpack("<d", _b64(inner, path, 8))[0]
            if key == "$bytes":
                return _b64(inner, path)
        out = {}
        for key, inner in value.items():
            if key.startswith("$"):
                raise WireFormatError(f"{path}: field names may not start with '$' ({key!r})")
            out[key] = decode(inner, f"{path}.{key}")
        return out
    raise WireFormatError(f"{path}: {type(value).__name__} is not a JSON value")


def _b64(text: Any, path: str, length: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (TypeError, ValueError):
        raise WireFormatError(f"{path}: {text!r} is not base64") from None
    if length is not None and len(raw) != length:
        raise WireFormatError(f"{path}: expected {length} bytes, got {len(raw)}")
    return raw


def _int64(text: Any, path: str) -> int:
    n: int = struct.unpack("<q", _b64(text, path, 8))[0]
    return n


def _plain_float(x: float) -> bool:
    return math.isfinite(x) and not (x == 0.0 and math.copysign(1.0, x) < 0)


def encode(value: Any) -> Any:
    """Convex encoded JSON (as Python structures ready for ``json.dumps``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value if _plain_float(value) else {"$float": _b64s(struct.pack("<d", value))}
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise WireFormatError(f"{value} does not fit in a 64-bit integer")
        return {"$integer": _b64s(struct.pack("<q", value))}
    if isinstance(value, bytes):
        return {"$bytes": _b64s(value)}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    raise WireFormatError(f"{type(value).__name__} is not a Convex value")


def encode_clean(value: Any) -> Any:
    """The ``format: "json"`` rendering: plain JSON, Int64 as a string, bytes as base64."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return _b64s(value)
    if isinstance(value, (list, tuple)):
        return [encode_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_clean(v) for k, v in value.items()}
    raise WireFormatError(f"{type(value).__name__} is not a Convex value")


def _b64s(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def dumps(value: Any) -> str:
    """JSON text; floats keep their decimal point (``1.0``), as the clients require."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_u64(n: int) -> str:
    """A u64 (a timestamp) as the protocol sends it: base64 of 8 little-endian bytes."""
    return _b64s(struct.pack("<Q", n))


def decode_u64(text: str) -> int:
    n: int = struct.unpack("<Q", _b64(text, "u64", 8))[0]
    return n
