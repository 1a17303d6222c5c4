"""Convex values in Python, and the JSON form documents are stored in.

Python types map onto Convex's: ``None`` null, ``bool`` Boolean, ``int`` Int64, ``float``
Float64, ``str`` String, ``bytes`` Bytes, ``list`` Array, ``dict`` Object. Int64 and Float64
stay distinct all the way to disk and back, as do ``-0.0``, NaN and the infinities.

Stored JSON is Convex's export JSON, made unambiguous for databases that normalise numbers
(PostgreSQL's JSONB turns ``1e+20`` into an integer and ``-0.0`` into ``0``): an Int64 is a
bare integer, a float is a number with a decimal point when that survives any JSON engine,
otherwise ``{"$float": base64}``; bytes are ``{"$bytes": base64}``.
"""

from __future__ import annotations

import base64
import json
import marshal
import math
import re
import struct
from typing import Any, Final, TypeGuard

import numpy as np

from smalltown.store.errors import InvalidValueError

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_DEPTH: Final = 64
MAX_DOCUMENT_BYTES: Final = 1 << 20
SYSTEM_FIELDS: Final = ("_id", "_creationTime")
_FIELD_NAME = re.compile(r"^[^$][^\x00]{0,1023}$", re.DOTALL)


class _Undefined:
    """Marks a field to remove in ``patch``; Convex's ``undefined``."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()


def check_value(value: Any, path: str = "value", depth: int = 0) -> None:
    """Raise InvalidValueError, naming the path, unless ``value`` is a Convex value."""
    if not _fine(value, depth):
        _check_value(value, path, depth)  # finds what is wrong, and says where


# Field names already found valid: documents repeat the same few, and a set lookup costs
# far less than the pattern. Bounded, so odd inputs cannot grow it without end.
_VALID_NAMES: set[str] = set()
_VALID_NAMES_MAX = 10_000
_SCALARS = frozenset({str, float, bool, bytes, type(None)})


def _fine(value: Any, depth: int) -> bool:
    """Whether ``value`` is certainly a Convex value: the common case, checked with as
    little Python as possible. False means "look closer" (``_check_value`` decides):
    subclasses of the built-in types, for one, are left to it."""
    kind = type(value)
    if kind in _SCALARS:
        return depth <= MAX_DEPTH
    if kind is int:
        return depth <= MAX_DEPTH and INT64_MIN <= value <= INT64_MAX
    if kind is dict:
        items = value.values()
        if not _VALID_NAMES.issuperset(value) and not all(map(_new_name, value)):
            return False
    elif kind is list:
        items = value
    else:
        return False
    if depth >= MAX_DEPTH:
        return depth == MAX_DEPTH and not value  # an item would be nested too deep
    if kind is list and all_floats(items, _LONG_LIST):
        return True  # an embedding's floats: no walk
    if _SCALARS.issuperset(map(type, items)):
        return True  # a document of strings: no walk
    for item in items:
        kind = type(item)
        if kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                return False
        elif kind not in _SCALARS and not _fine(item, depth + 1):
            return False
    return True


def _new_name(key: Any) -> bool:
    if type(key) is not str or not _FIELD_NAME.match(key):
        return False
    if len(_VALID_NAMES) < _VALID_NAMES_MAX:
        _VALID_NAMES.add(key)
    return True


def _check_value(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidValueError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str, bytes, float)):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidValueError(f"{path} = {value} does not fit in a 64-bit integer")
        return
    if isinstance(value, list):
        if all_floats(value):  # embeddings: skip the per-element walk
            return
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            check_field_name(key, path)
            _check_value(item, f"{path}.{key}", depth + 1)
        return
    raise InvalidValueError(
        f"{path} is a {type(value).__name__}, which is not a Convex value "
        "(use None, bool, int, float, str, bytes, list or dict)"
    )


def check_field_name(key: Any, path: str = "value") -> None:
    if not isinstance(key, str):
        raise InvalidValueError(f"{path} has a field name {key!r} that is not a string")
    if not _FIELD_NAME.match(key):
        raise InvalidValueError(
            f"{path} has an invalid field name {key!r}: names must be non-empty, "
            "must not start with '$' and must not contain NUL"
        )


def check_document_fields(doc: Any, table: str) -> None:
    """A user-supplied document: an object whose top-level fields are not system fields."""
    if not isinstance(doc, dict):
        raise InvalidValueError(
            f"a document for {table!r} must be a dict, got {type(doc).__name__}"
        )
    for key in doc:
        if isinstance(key, str) and key.startswith("_"):
            raise InvalidValueError(
                f"field {key!r} of a document for {table!r}: fields starting with '_' "
                "are reserved for the system"
            )
    check_value(doc, "document")


def _float_bits(x: float) -> str:
    return base64.b64encode(struct.pack("<d", x)).decode()


def to_stored(value: Any) -> Any:
    """The JSON-safe form of a value, decodable by :func:`from_stored` without loss."""
    if isinstance(value, float):
        # repr() writes plain decimals exactly for 1e-4 <= |x| < 1e16 (and 0.0); any JSON
        # engine keeps those as floats. The rest (-0.0, NaN, inf, exponents) go as bits.
        magnitude = abs(value)
        if (1e-4 <= magnitude < 1e16) or (value == 0.0 and math.copysign(1.0, value) > 0):
            return value
        return {"$float": _float_bits(value)}
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, list):
        if all_floats(value) and _all_plain(value):
            return value
        return [to_stored(v) for v in value]
    return {k: to_stored(v) for k, v in value.items()}


def all_floats(items: list[Any], at_least: int = 1) -> bool:
    """Whether ``items`` has ``at_least`` items, every one a float (an embedding, say):
    such a list needs no walk, item by item, to check, store or read it."""
    return len(items) >= at_least and float_array(items) is not None


# marshal (format 2: no back-references) writes an exact float as b"g" and its 8 bytes, and
# a list as b"[", its length in 4 bytes, then its items.
_MARSHAL_FORMAT = 2
_FLOAT_RECORD = np.dtype([("tag", "u1"), ("value", "<f8")])
_FLOAT_TAG = ord("g")
_LONG_LIST = 32  # shorter lists are walked in Python as cheaply


def float_array(items: list[Any]) -> np.ndarray | None:
    """``items`` as float64 when every one is a float (not a subclass), else None.

    An embedding's thousand floats are checked by every import and insert. A type test of
    each in Python, or numpy reading the list, costs some 300 instructions an item; marshal
    writes the list in C at half that, and the result proves the types (every record
    tagged as an exact float) and holds the values: the array is a view of it.
    """
    if items and type(items[0]) is not float:
        return None  # (say, a long list of strings: not marshalled for nothing)
    try:
        packed = marshal.dumps(items, _MARSHAL_FORMAT)
    except ValueError:  # something marshal cannot write: not all floats
        return None
    if len(packed) != 5 + _FLOAT_RECORD.itemsize * len(items):
        return None
    records = np.frombuffer(packed, _FLOAT_RECORD, offset=5)
    if not (records["tag"] == _FLOAT_TAG).all():
        return None
    return records["value"]


def _all_plain(floats: list[float]) -> bool:
    """Whether every float is written by repr() as a plain decimal (see to_stored)."""
    arr = np.asarray(floats, dtype=np.float64)
    magnitude = np.abs(arr)
    plain = ((magnitude >= 1e-4) & (magnitude < 1e16)) | ((arr == 0.0) & ~np.signbit(arr))
    return bool(plain.all())


def from_stored(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            if "$float" in value:
                return struct.unpack("<d", base64.b64decode(value["$float"]))[0]
            if "$bytes" in value:
                return base64.b64decode(value["$bytes"])
        return {k: from_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        if all_floats(value, _LONG_LIST):
            return value  # an embedding: floats alone, nothing to decode
        return [from_stored(v) for v in value]
    return value


def dumps(doc: dict[str, Any]) -> str:
    text = json.dumps(to_stored(doc), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if len(text) > MAX_DOCUMENT_BYTES:
        raise InvalidValueError(
            f"document is {len(text)} bytes of JSON; the limit is {MAX_DOCUMENT_BYTES}"
        )
    return text


def loads(text: str | bytes) -> dict[str, Any]:
    doc: dict[str, Any] = from_stored(json.loads(text))
    return doc


def is_finite_number(x: Any) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
