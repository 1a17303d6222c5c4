"""Documents validated and encoded ahead of a bulk insert (an import).

An import reads its input once: each document is checked and turned into a
:class:`PreparedRow` (stored JSON, index keys, vectors) before anything is written, and
the write pass only moves those rows (``Transaction.insert_prepared``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from smalltown.store import values
from smalltown.store.base import PreparedRow, Row
from smalltown.store.errors import InvalidValueError
from smalltown.store.rows import check_body, index_keys, vector_entries
from smalltown.store.schema import Table
from smalltown.store.validators import DocumentMismatchError

__all__ = ["PreparedRow", "prepare_row"]


def prepare_row(
    t: Table, doc: Mapping[str, Any], number: int, encoded: str | None = None
) -> PreparedRow:
    """Check an imported document (``_id`` and ``_creationTime`` included) for ``t`` and
    encode it.

    ``number`` is the table number its ``_id`` carries, as ``decode_id`` gave it to the
    caller (which must have decoded the id: it is not decoded twice). ``encoded`` is the
    body's stored JSON when the caller already has it in that form (see ``values.py``),
    which saves encoding it again: an embedding's floats are the costly part.
    """
    body = {k: v for k, v in doc.items() if k not in values.SYSTEM_FIELDS}
    # The caller decoded the id (see above), so it is a well-formed string.
    id, ct = cast(str, doc.get("_id")), doc.get("_creationTime")
    try:
        floats = check_body(t, body)
    except DocumentMismatchError as exc:
        raise exc.of(id) from None
    if not values.is_finite_number(ct):
        raise InvalidValueError(f"_creationTime of {id} must be a finite number, got {ct!r}")
    row = Row(id, float(ct), body)
    vectors = (
        {name: e for name, e in vector_entries(t, row, floats).items() if e is not None}
        if t.vector_indexes
        else {}
    )
    if encoded is None:
        encoded = values.dumps(body)
    elif len(encoded) > values.MAX_DOCUMENT_BYTES:
        raise InvalidValueError(
            f"document is {len(encoded)} bytes of JSON; the limit is {values.MAX_DOCUMENT_BYTES}"
        )
    return PreparedRow(id, number, row.creation_time, encoded, index_keys(t, row), vectors)
