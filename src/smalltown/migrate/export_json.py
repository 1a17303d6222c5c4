"""Convex's export JSON (the "uniform" format, since March 2026).

An Int64 is a bare JSON integer; every finite float is written with a decimal point
(``1.0``, ``-0.0``); a float whose shortest form needs an exponent, NaN and the infinities
are ``{"$float": base64 of 8 little-endian bytes}``; bytes are ``{"$bytes": base64}``.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any


def to_export(value: Any) -> Any:
    if isinstance(value, float):
        if math.isfinite(value) and "." in repr(value) and "e" not in repr(value):
            return value
        return {"$float": base64.b64encode(struct.pack("<d", value)).decode()}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [to_export(v) for v in value]
    return {k: to_export(v) for k, v in value.items()}


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(
        to_export(document), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
