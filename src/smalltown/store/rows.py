"""A document as a provider stores it: checked body, index keys and vector entries.

Transactions, imports (``prepared.py``) and providers rewriting rows for a new schema all
encode a row here, so every path computes the same keys and vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from smalltown.store import keys, values
from smalltown.store.base import ProviderTransaction, Row, VectorEntry
from smalltown.store.errors import InvalidValueError, SchemaError, VectorDimensionError
from smalltown.store.schema import BY_ID, Table, VectorIndex
from smalltown.store.validators import check_fit

# A document's top-level vector fields already read as float64 (``check_body``), by field.
Floats = dict[str, np.ndarray]


def by_id_key(id: str) -> bytes:
    """A document's key in its table's ``by_id`` index."""
    return keys.encode_value(id)


def index_keys(t: Table, row: Row) -> dict[str, bytes]:
    """A row's key in every index of its table, ``by_id`` included."""
    # Every index ends with _creationTime and _id (schema.py keeps them out of ``fields``),
    # so their encoding is shared, and the other fields are read from the body alone.
    by_id = by_id_key(row.id)
    suffix = keys.encode_value(row.creation_time) + by_id
    body = row.body
    out = {ix.name: keys.index_key(body, ix.fields) + suffix for ix in t.all_indexes}
    out[BY_ID] = by_id
    return out


async def rewrite_row(ptx: ProviderTransaction, t: Table, row: Row) -> None:
    """Write a row again with keys and vectors for ``t``'s current indexes (a migration)."""
    try:
        vectors = vector_entries(t, row)
    except InvalidValueError as exc:
        raise SchemaError(
            f"cannot build the vector indexes of {t.name!r}: {exc}. Re-embed or delete the "
            "documents whose vectors do not fit, or keep the old dimension"
        ) from exc
    await ptx.update(t, row, values.dumps(row.body), index_keys(t, row), vectors)


def vector_entries(
    t: Table, row: Row, floats: Floats | None = None
) -> dict[str, VectorEntry | None]:
    """A row's entry in every vector index of its table (None: not in that index).
    ``floats``: its vector fields ``check_body`` already read."""
    floats = floats or {}
    return {
        v.name: _vector_entry(v, t.name, row.body, floats.get(v.field)) for v in t.vector_indexes
    }


def check_body(t: Table, body: Any) -> Floats:
    """``values.check_document_fields`` for a document of ``t`` (and its declared
    ``document`` validator, if any), reading each top-level
    vector field that holds only floats once, for the check and the index both: returns
    those fields' values as float64, for ``vector_entries``."""
    floats = {}
    if isinstance(body, dict):
        for v in t.vector_indexes:
            if "." in v.field or v.field.startswith("_"):
                continue  # a path is walked, and a system-like name refused, as usual
            raw = body.get(v.field)
            if type(raw) is list and (found := values.float_array(raw)) is not None:
                floats[v.field] = found  # floats alone: a valid value, nothing to walk
    rest = {k: x for k, x in body.items() if k not in floats} if floats else body
    values.check_document_fields(rest, t.name)
    if (validator := t.validator) is not None:
        check_fit(validator, body, t.name)
    return floats


def checked_vector(
    raw: Any, vindex: VectorIndex, table: str, what: str, floats: np.ndarray | None = None
) -> np.ndarray:
    """``raw`` as the float32 vector ``vindex`` holds; refuses non-finite numbers and a
    wrong dimension (``what`` names ``raw`` in the message)."""
    arr = _numbers(raw) if floats is None else floats
    if arr is None or not np.isfinite(arr).all():
        raise InvalidValueError(
            f"{what} for vector index {table}.{vindex.name} must be a list of finite numbers"
        )
    if len(raw) != vindex.dimensions:
        raise VectorDimensionError(
            f"{what} has {len(raw)} dimensions but vector index {table}.{vindex.name} "
            f"has {vindex.dimensions}"
        )
    return arr.astype(np.float32)


def _numbers(raw: Any) -> np.ndarray | None:
    """``raw`` as float64 when it is a list or tuple of ints and floats, else None. A list
    of floats, the common case, is read at C speed (``values.float_array``)."""
    if not isinstance(raw, (list, tuple)):
        return None
    if type(raw) is list and (floats := values.float_array(raw)) is not None:
        return floats
    if set(map(type, raw)) <= {float, int}:
        return np.array(raw, dtype=np.float64)
    return None


def _vector_entry(
    vindex: VectorIndex, table: str, body: dict[str, Any], floats: np.ndarray | None = None
) -> VectorEntry | None:
    raw = keys.field_value(body, vindex.field)
    if raw is values.UNDEFINED:
        return None
    vector = checked_vector(raw, vindex, table, f"field {vindex.field!r}", floats)
    filters = tuple(keys.encode_value(keys.field_value(body, f)) for f in vindex.filter_fields)
    return VectorEntry(vector, filters)
