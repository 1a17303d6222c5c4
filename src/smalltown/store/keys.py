"""Order-preserving byte keys for index entries.

Every index entry is one byte string: the encoded values of the index's fields, then
``_creationTime`` and ``_id`` (as Convex appends them), so entries are unique and ordered by
Convex's total order over values::

    undefined < null < Int64 < Float64 < Boolean < String < Bytes < Array < Object

Comparing keys as bytes (SQLite BLOB, PostgreSQL bytea, hex text in MongoDB) compares the
values they encode, so every provider answers a range query the same way, and the reactive
layer can decide whether a write touches a read by comparing bytes, never by asking a database.
Each encoded value is self-delimiting, so the keys of all entries with a given prefix of
values form one contiguous byte range.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from smalltown.store.values import UNDEFINED

_UNDEFINED = b"\x05"
_NULL = b"\x10"
_INT = 0x20
_FLOAT = 0x30
_FALSE = b"\x40"
_TRUE = b"\x41"
_STRING = 0x50
_BYTES = 0x60
_ARRAY = 0x70
_OBJECT = 0x80
_END = b"\x00"


def _escape(data: bytes) -> bytes:
    # 0x00 ends a string, so a literal 0x00 becomes 0x00 0xFF, which sorts after the end mark.
    return data.replace(b"\x00", b"\x00\xff") + _END


def encode_value(value: Any) -> bytes:
    if value is UNDEFINED:
        return _UNDEFINED
    if value is None:
        return _NULL
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    if isinstance(value, int):
        return bytes([_INT]) + struct.pack(">Q", value + (1 << 63))
    if isinstance(value, float):
        (bits,) = struct.unpack(">Q", struct.pack(">d", value))
        bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
        return bytes([_FLOAT]) + struct.pack(">Q", bits)
    if isinstance(value, str):
        return bytes([_STRING]) + _escape(value.encode())
    if isinstance(value, bytes):
        return bytes([_BYTES]) + _escape(value)
    if isinstance(value, list):
        return bytes([_ARRAY]) + b"".join(encode_value(v) for v in value) + _END
    if isinstance(value, dict):
        parts = [encode_value(k) + encode_value(value[k]) for k in value]
        return bytes([_OBJECT]) + b"".join(parts) + _END
    raise TypeError(f"cannot encode {type(value).__name__} in an index key")


def encode_tuple(values: Sequence[Any]) -> bytes:
    return b"".join(encode_value(v) for v in values)


def field_value(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or UNDEFINED when any step is missing."""
    current: Any = doc
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return UNDEFINED
        current = current[part]
    return current


def index_key(doc: dict[str, Any], fields: Sequence[str]) -> bytes:
    """The entry of ``doc`` in an index on ``fields`` (system fields appended by the caller)."""
    return encode_tuple([field_value(doc, f) for f in fields])


def successor(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
