"""Transactions over any provider: validation, queries, pagination, read and write sets.

This is the one code path every provider shares. A provider only moves rows and byte keys;
here they get meaning, so a query, a patch or a bad value behaves the same on SQLite,
PostgreSQL and MongoDB. Rows are encoded in ``rows.py``; the key ranges a transaction
reads and the writes it makes are defined in ``ranges.py``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from smalltown.store import keys, values
from smalltown.store.base import (
    PreparedRow,
    ProviderTransaction,
    Row,
    VectorEntry,
    VectorFilter,
)
from smalltown.store.clock import Clock
from smalltown.store.errors import (
    DocumentNotFoundError,
    InvalidIdError,
    InvalidQueryError,
    InvalidValueError,
    UnknownTableError,
    VectorDimensionError,
)
from smalltown.store.ids import decode_id, encode_id, new_internal_id
from smalltown.store.ranges import KeyRange, Range, Write, point, query_bounds
from smalltown.store.rows import (
    Floats,
    by_id_key,
    check_body,
    checked_vector,
    index_keys,
    vector_entries,
)
from smalltown.store.schema import BY_CREATION_TIME, BY_ID, Schema, Table, VectorIndex

Order = Literal["asc", "desc"]
MAX_VECTOR_RESULTS = 256


@dataclass(frozen=True, slots=True)
class AnyOf:
    """A vector-search filter value: a document matches if its field equals any of these."""

    values: tuple[Any, ...]

    def __init__(self, *options: Any) -> None:
        object.__setattr__(self, "values", options)


@dataclass(frozen=True, slots=True)
class Page:
    page: list[dict[str, Any]]
    continue_cursor: str
    is_done: bool


@dataclass
class _Pending:
    """What this transaction did, for the caller's read and write sets, and how many bytes
    its writes hand the database (``Transaction.bytes_written``)."""

    reads: list[KeyRange] = field(default_factory=list)
    writes: dict[str, Write] = field(default_factory=dict)
    bytes: int = 0

    def wrote(
        self,
        table: str,
        id: str,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
    ) -> None:
        earlier = self.writes.get(id)
        if earlier is not None:
            old = earlier.old_keys
        if old is None and new is None:
            del self.writes[id]  # inserted and deleted within one transaction: no effect
            return
        self.writes[id] = Write(table, id, old, new)

    def inserted(self, table: str, rows: Sequence[PreparedRow]) -> None:
        """``wrote`` for a batch of new documents (an import's): one call, not one each."""
        fresh = {row.id: Write(table, row.id, None, row.keys) for row in rows}
        for id in fresh.keys() & self.writes.keys() if self.writes else ():
            self.wrote(table, id, None, fresh.pop(id).new_keys)
        self.writes.update(fresh)


class Transaction:
    """A unit of reads and writes, committed all or nothing.

    Obtain one through ``Store.transact``; use it only inside that call.
    """

    def __init__(
        self,
        ptx: ProviderTransaction,
        schema: Schema,
        table_numbers: Mapping[str, int],
        read_only: bool,
        clock: Clock,
    ) -> None:
        self._ptx = ptx
        self._schema = schema
        self._numbers = table_numbers
        self._tables_by_number = {n: name for name, n in table_numbers.items()}
        self._read_only = read_only
        self._clock = clock
        self._pending = _Pending()

    @property
    def reads(self) -> tuple[KeyRange, ...]:
        return tuple(self._pending.reads)

    @property
    def writes(self) -> tuple[Write, ...]:
        return tuple(self._pending.writes.values())

    @property
    def bytes_written(self) -> int:
        """The encoded size of what this transaction wrote so far, the same on every
        provider: each document inserted or replaced (a patch rewrites the whole document)
        as its stored JSON in UTF-8, plus its key in every index and its vectors; each
        deleted document as its id's key. Writing a document twice counts it twice, as
        both writes reach the database; a provider's own bookkeeping is not counted."""
        return self._pending.bytes

    @property
    def table_numbers(self) -> dict[str, int]:
        """Every table this transaction reaches (declared or not), with its number."""
        return dict(self._numbers)

    # --- reading -----------------------------------------------------------------------

    async def get(self, id: str, *, table: str | None = None) -> dict[str, Any] | None:
        """The document with ``id``, or None if there is none (deleted or never written)."""
        t = self._table_of_id(id, table)
        self._pending.reads.append(point(t.name, BY_ID, by_id_key(id)))
        row = await self._ptx.get(t, id)
        return None if row is None else row.document()

    async def query(
        self,
        table: str,
        index: str = BY_CREATION_TIME,
        *,
        eq: Mapping[str, Any] | None = None,
        range: Range | None = None,
        order: Order = "asc",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Documents by index: equality on a prefix of its fields, then a range, in order."""
        t = self._table(table)
        low, high = query_bounds(t, index, eq, range)
        reverse = self._check_order(order)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise InvalidQueryError(f"limit must be a non-negative integer, got {limit!r}")
        rows = await self._ptx.scan(t, index, low, high, reverse, limit)
        self._record_scan(t.name, index, low, high, reverse, rows, limit)
        return [row.document() for _, row in rows]

    async def first(
        self, table: str, index: str = BY_CREATION_TIME, **kwargs: Any
    ) -> dict[str, Any] | None:
        found = await self.query(table, index, limit=1, **kwargs)
        return found[0] if found else None

    async def paginate(
        self,
        table: str,
        index: str = BY_CREATION_TIME,
        *,
        eq: Mapping[str, Any] | None = None,
        range: Range | None = None,
        order: Order = "asc",
        cursor: str | None = None,
        page_size: int = 100,
    ) -> Page:
        """One page of a query. The cursor names the last key returned, so rows inserted
        between pages neither repeat nor push others out of the next page."""
        t = self._table(table)
        low, high = query_bounds(t, index, eq, range)
        reverse = self._check_order(order)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise InvalidQueryError(f"page_size must be a positive integer, got {page_size!r}")
        after = self._decode_cursor(cursor, t.name, index, order)
        if after is not None:
            if reverse:
                high = after if high is None else min(high, after)
            else:
                low = max(low, after + b"\x00")
        rows = await self._ptx.scan(t, index, low, high, reverse, page_size + 1)
        is_done = len(rows) <= page_size
        rows = rows[:page_size]
        self._record_scan(t.name, index, low, high, reverse, rows, None if is_done else page_size)
        if rows:
            last = rows[-1][0]
        elif after is not None:
            last = after
        else:
            last = None
        return Page(
            page=[row.document() for _, row in rows],
            continue_cursor=self._encode_cursor(t.name, index, order, last),
            is_done=is_done,
        )

    async def count(self, table: str) -> int:
        t = self._table(table)
        self._pending.reads.append(KeyRange(t.name, BY_CREATION_TIME, b"", None))
        return await self._ptx.count(t)

    async def vector_search(
        self,
        table: str,
        index: str,
        vector: Sequence[float],
        *,
        limit: int = 10,
        filter: Mapping[str, Any] | None = None,
    ) -> list[tuple[str, float]]:
        """``(id, cosine similarity)`` of the nearest documents, best first.

        ``filter`` maps filter fields to a value or an :class:`AnyOf`; all fields must match.
        """
        t = self._table(table)
        vindex = t.vector_index(index)
        query = checked_vector(vector, vindex, t.name, "the query vector")
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not (1 <= limit <= MAX_VECTOR_RESULTS)
        ):
            raise InvalidQueryError(
                f"vector search limit must be an integer from 1 to {MAX_VECTOR_RESULTS}, "
                f"got {limit!r}"
            )
        filters = _vector_filters(vindex, t.name, filter or {})
        # Any insert could become a nearer neighbour: the search depends on the whole table.
        self._pending.reads.append(KeyRange(t.name, BY_CREATION_TIME, b"", None))
        return await self._ptx.vector_search(t, vindex, query, limit, filters)

    # --- writing -----------------------------------------------------------------------

    async def insert(self, table: str, doc: Mapping[str, Any]) -> str:
        """Insert a new document and return its id."""
        self._check_writable()
        t = self._table(table)
        floats = check_body(t, doc)
        id = encode_id(self._numbers[t.name], new_internal_id())
        await self._insert_row(t, Row(id, self._clock.creation_time(), dict(doc)), floats)
        return id

    async def insert_measured(self, table: str, doc: Mapping[str, Any], field: str) -> str:
        """Insert ``doc`` with ``field`` set to ``bytes_written`` once it is written, its
        own bytes included: the last write of a transaction that records its own size."""
        self._check_writable()
        t = self._table(table)
        id = encode_id(self._numbers[t.name], new_internal_id())
        creation_time = self._clock.creation_time()
        before, total = self._pending.bytes, self._pending.bytes
        while True:  # the size grows with the number's digits: settles in a round or two
            row = Row(id, creation_time, {**doc, field: float(total)})
            floats = check_body(t, row.body)
            vectors = _present(vector_entries(t, row, floats))
            size = _size(values.dumps(row.body), index_keys(t, row), vectors)
            if before + size == total:
                break
            total = before + size
        await self._insert_row(t, row, floats)
        return id

    async def insert_with_id(self, table: str, doc: Mapping[str, Any]) -> str:
        """Insert a document that already has ``_id`` and ``_creationTime`` (an import)."""
        await self.insert_many_with_ids(table, [doc])
        id: str = doc["_id"]  # checked by insert_many_with_ids
        return id

    async def insert_many_with_ids(self, table: str, docs: Sequence[Mapping[str, Any]]) -> None:
        """``insert_with_id`` for a batch, with one existence check for the whole batch
        rather than a round trip per document: what makes an import fast."""
        self._check_writable()
        t = self._table(table)
        rows = [self._imported_row(t, doc) for doc in docs]
        await self._check_new_ids(t, [row.id for row, _ in rows])
        for row, floats in rows:
            await self._insert_row(t, row, floats)

    async def insert_prepared(self, table: str, rows: Sequence[PreparedRow]) -> None:
        """Insert rows that ``prepared.prepare_row`` checked and encoded (an import's
        write pass): only what depends on the database is checked here."""
        self._check_writable()
        t = self._table(table)
        number = self._numbers[t.name]
        ids = [row.id for row in rows]
        for row in rows:
            if row.number != number:
                raise InvalidIdError(
                    f"id {row.id} belongs to table number {row.number}, not to {t.name!r} "
                    f"(number {number})"
                )
            for v in t.vector_indexes:
                entry = row.vectors.get(v.name)
                if entry is not None and len(entry.vector) != v.dimensions:
                    raise VectorDimensionError(
                        f"the vector of {row.id} has {len(entry.vector)} dimensions but "
                        f"vector index {t.name}.{v.name} has {v.dimensions}"
                    )
        await self._check_new_ids(t, ids)
        if rows:
            await self._ptx.insert_many(t, rows)
        self._pending.inserted(t.name, rows)
        self._pending.bytes += sum(_size(row.encoded, row.keys, row.vectors) for row in rows)

    async def _check_new_ids(self, t: Table, ids: list[str]) -> None:
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            for id in ids:
                if id in seen:
                    raise InvalidIdError(f"the document id {id} appears twice in one batch")
                seen.add(id)
        existing = await self._ptx.existing_ids(t, ids) if ids else set()
        if existing:
            raise InvalidIdError(f"a document with id {min(existing)} already exists in {t.name!r}")

    def _imported_row(self, t: Table, doc: Mapping[str, Any]) -> tuple[Row, Floats]:
        body = {k: v for k, v in doc.items() if k not in values.SYSTEM_FIELDS}
        floats = check_body(t, body)
        id, ct = doc.get("_id"), doc.get("_creationTime")
        self._table_of_id(id, t.name)  # refuses an id that is not a well-formed string
        if not values.is_finite_number(ct):
            raise InvalidValueError(f"_creationTime of {id} must be a finite number, got {ct!r}")
        return Row(cast(str, id), float(ct), body), floats

    async def patch(self, id: str, fields: Mapping[str, Any], *, table: str | None = None) -> None:
        """Shallow-merge ``fields`` into the document; a field set to UNDEFINED is removed."""
        self._check_writable()
        if not isinstance(fields, Mapping):
            raise InvalidValueError(f"patch fields must be a dict, got {type(fields).__name__}")
        t, row = await self._existing(id, table)
        body = dict(row.body)
        for key, value in fields.items():
            if key in values.SYSTEM_FIELDS:
                if value is values.UNDEFINED or value != row.document()[key]:
                    raise InvalidValueError(f"{key} of {id} cannot be changed")
                continue
            if value is values.UNDEFINED:
                body.pop(key, None)
            else:
                body[key] = value
        floats = check_body(t, body)
        await self._update_row(t, row, Row(row.id, row.creation_time, body), floats)

    async def replace(self, id: str, doc: Mapping[str, Any], *, table: str | None = None) -> None:
        """Replace every field of the document (system fields stay)."""
        self._check_writable()
        t, row = await self._existing(id, table)
        body = {k: v for k, v in doc.items() if k not in values.SYSTEM_FIELDS}
        for key in values.SYSTEM_FIELDS:
            if key in doc and doc[key] != row.document()[key]:
                raise InvalidValueError(f"{key} of {id} cannot be changed")
        floats = check_body(t, body)
        await self._update_row(t, row, Row(row.id, row.creation_time, body), floats)

    async def delete(self, id: str, *, table: str | None = None) -> None:
        self._check_writable()
        t, row = await self._existing(id, table)
        await self._ptx.delete(t, id)
        self._pending.wrote(t.name, id, index_keys(t, row), None)
        self._pending.bytes += len(by_id_key(id))

    async def delete_some(
        self,
        table: str,
        limit: int,
        index: str = BY_CREATION_TIME,
        *,
        eq: Mapping[str, Any] | None = None,
        range: Range | None = None,
    ) -> int:
        """Delete the first ``limit`` documents ``query`` would give with the same
        arguments, in one statement; returns how many went (0: none was left). Emptying a
        table, or pruning a range of it, so, a transaction a batch, spares a round trip a
        document (an import's ``replace`` mode, a world's old history)."""
        self._check_writable()
        t = self._table(table)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidQueryError(f"limit must be a positive integer, got {limit!r}")
        low, high = query_bounds(t, index, eq, range)
        found = await self._ptx.scan(t, index, low, high, False, limit)
        if found:
            await self._ptx.delete_many(t, [row.id for _, row in found])
        for _, row in found:
            self._pending.wrote(t.name, row.id, index_keys(t, row), None)
            self._pending.bytes += len(by_id_key(row.id))
        return len(found)

    # --- internals ---------------------------------------------------------------------

    async def _insert_row(self, t: Table, row: Row, floats: Floats) -> None:
        keyset = index_keys(t, row)
        vectors = _present(vector_entries(t, row, floats))
        encoded = values.dumps(row.body)  # fails on oversize documents before any write
        await self._ptx.insert(t, row, encoded, keyset, vectors)
        self._pending.wrote(t.name, row.id, None, keyset)
        self._pending.bytes += _size(encoded, keyset, vectors)

    async def _update_row(self, t: Table, old: Row, new: Row, floats: Floats) -> None:
        keyset = index_keys(t, new)
        vectors = vector_entries(t, new, floats)
        encoded = values.dumps(new.body)
        await self._ptx.update(t, new, encoded, keyset, vectors)
        self._pending.wrote(t.name, new.id, index_keys(t, old), keyset)
        self._pending.bytes += _size(encoded, keyset, _present(vectors))

    async def _existing(self, id: str, table: str | None) -> tuple[Table, Row]:
        t = self._table_of_id(id, table)
        row = await self._ptx.get(t, id)
        if row is None:
            raise DocumentNotFoundError(f"no document with id {id} in table {t.name!r}")
        return t, row

    def _check_writable(self) -> None:
        if self._read_only:
            raise InvalidQueryError("this transaction is read-only; write in a mutation")

    def _table(self, name: str) -> Table:
        if not isinstance(name, str):
            raise UnknownTableError(f"a table name must be a string, got {type(name).__name__}")
        return self._schema.table(name)

    def _table_of_id(self, id: Any, expected: str | None) -> Table:
        number, _ = decode_id(id)
        name = self._tables_by_number.get(number)
        if expected is not None:
            t = self._table(expected)
            if name != t.name:
                owner = f"table {name!r}" if name else f"table number {number}, unknown here"
                raise InvalidIdError(f"id {id} belongs to {owner}, not to {t.name!r}")
            return t
        if name is None:
            raise InvalidIdError(
                f"id {id} belongs to table number {number}, which is not in the schema"
            )
        return self._schema.table(name)

    def _record_scan(
        self,
        table: str,
        index: str,
        low: bytes,
        high: bytes | None,
        reverse: bool,
        rows: list[tuple[bytes, Row]],
        limit: int | None,
    ) -> None:
        # A scan cut short by its limit depends only on the part of the range it covered.
        if limit is not None and rows and len(rows) >= limit:
            edge = rows[-1][0]
            if reverse:
                low = edge
            else:
                high = edge + b"\x00"
        elif limit == 0:
            return
        self._pending.reads.append(KeyRange(table, index, low, high))

    @staticmethod
    def _check_order(order: str) -> bool:
        if order not in ("asc", "desc"):
            raise InvalidQueryError(f"order must be 'asc' or 'desc', got {order!r}")
        return order == "desc"

    @staticmethod
    def _encode_cursor(table: str, index: str, order: str, last: bytes | None) -> str:
        body = {"t": table, "i": index, "o": order, "k": None if last is None else last.hex()}
        return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()

    @staticmethod
    def _decode_cursor(cursor: str | None, table: str, index: str, order: str) -> bytes | None:
        if cursor is None:
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            ok = (body["t"], body["i"], body["o"]) == (table, index, order)
            last = None if body["k"] is None else bytes.fromhex(body["k"])
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise InvalidQueryError(f"malformed pagination cursor {cursor!r}") from None
        if not ok:
            raise InvalidQueryError(
                "this cursor belongs to another query; pass the cursor of the same "
                f"table, index and order ({table}.{index}, {order})"
            )
        return last


def _present(vectors: Mapping[str, VectorEntry | None]) -> dict[str, VectorEntry]:
    """A row's vector entries, without the indexes it is not in."""
    return {name: entry for name, entry in vectors.items() if entry is not None}


def _size(encoded: str, keyset: Mapping[str, bytes], vectors: Mapping[str, VectorEntry]) -> int:
    """The bytes a row's write hands the database: its stored JSON (UTF-8), its index
    keys, its vectors (4 bytes a number) and their filter keys."""
    size = len(encoded.encode()) + sum(map(len, keyset.values()))
    for entry in vectors.values():
        size += entry.vector.nbytes + sum(map(len, entry.filters))
    return size


def _vector_filters(vindex: VectorIndex, table: str, spec: Mapping[str, Any]) -> VectorFilter:
    out = []
    for name, wanted in spec.items():
        if name not in vindex.filter_fields:
            raise InvalidQueryError(
                f"vector index {table}.{vindex.name} cannot filter on {name!r}; "
                f"its filter fields are {list(vindex.filter_fields)}"
            )
        options = wanted.values if isinstance(wanted, AnyOf) else (wanted,)
        for option in options:
            values.check_value(option, f"filter[{name!r}]")
        out.append((vindex.filter_fields.index(name), [keys.encode_value(v) for v in options]))
    return out
