"""Convex's typed JSON objects: ``{"$float": ...}``, ``{"$bytes": ...}``, ``{"$integer": ...}``.

Export JSON writes the values plain JSON cannot hold (NaN, the infinities, ``-0.0`` in
some exports, bytes, Int64 in single-table files) as one-key objects holding base64.
"""

from __future__ import annotations

import base64
import struct
from typing import Any


def typed_object(value: dict[str, Any]) -> Any:
    """A parsed object, or the value it stands for when it is a typed one. As the JSON
    parser's object hook it sees every object innermost first, so no second walk is
    needed."""
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key == "$float":
            return struct.unpack("<d", base64.b64decode(inner, validate=True))[0]
        if key == "$bytes":
            return base64.b64decode(inner, validate=True)
        if key == "$integer":
            return struct.unpack("<q", base64.b64decode(inner, validate=True))[0]
    return value


def decode_typed(value: Any) -> Any:
    """``typed_object`` applied to every object of a freshly parsed value, innermost first,
    as the object hook would have; containers are updated in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                value[key] = decode_typed(item)  # same keys: iteration stays valid
        return typed_object(value)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, (dict, list)):
                value[i] = decode_typed(item)
    return value
