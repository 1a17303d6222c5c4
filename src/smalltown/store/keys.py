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
from collections.abc import Callable, Sequence
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


_U64 = struct.Struct(">Q")
_F64 = struct.Struct(">d")
_SIGN = 1 << 63
_ALL_BITS = (1 << 64) - 1
_INT_TAG, _FLOAT_TAG, _STRING_TAG = bytes([_INT]), bytes([_FLOAT]), bytes([_STRING])


def _encode_int(value: int) -> bytes:
    return _INT_TAG + _U64.pack(value + _SIGN)


def _encode_float(value: float) -> bytes:
    (bits,) = _U64.unpack(_F64.pack(value))
    return _FLOAT_TAG + _U64.pack(bits ^ _ALL_BITS if bits >> 63 else bits | _SIGN)


def _encode_str(value: str) -> bytes:
    return _STRING_TAG + _escape(value.encode())


# The common types, found by one dict lookup rather than a chain of isinstance calls
# (index keys are computed for every document an import writes). Anything else, bool and
# subclasses included, takes the chain.
_BY_TYPE: dict[type, Callable[[Any], bytes]] = {
    int: _encode_int,
    float: _encode_float,
    str: _encode_str,
}


def encode_value(value: Any) -> bytes:
    encode = _BY_TYPE.get(type(value))
    if encode is not None:
        return encode(value)
    if value is UNDEFINED:
        return _UNDEFINED
    if value is None:
        return _NULL
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    if isinstance(value, int):
        return _encode_int(value)
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, str):
        return _encode_str(value)
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
    if "." not in path:
        return doc.get(path, UNDEFINED) if isinstance(doc, dict) else UNDEFINED
    current: Any = doc
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return UNDEFINED
        current = current[part]
    return current


def index_key(doc: dict[str, Any], fields: Sequence[str]) -> bytes:
    """The entry of ``doc`` in an index on ``fields`` (system fields appended by the caller)."""
    if len(fields) == 1:  # most indexes: no list to build
        return encode_value(field_value(doc, fields[0]))
    return b"".join([encode_value(field_value(doc, f)) for f in fields])


def successor(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
