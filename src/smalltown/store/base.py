"""The provider contract: what a database must do for smalltown, and nothing more.

A provider stores rows ``(id, creation time, body)`` per table, keeps one byte key per row
and index (computed by the caller, see ``keys.py``), answers byte-range scans over those keys,
keeps vectors beside rows for vector search, and runs serializable transactions. Everything
with meaning (validation, key computation, read and write sets, pagination, errors for bad
input) lives above this line in ``transaction.py``, ``rows.py`` and ``ranges.py``, once for
every provider.

To add a provider: subclass :class:`Provider` and :class:`ProviderTransaction` in a module of
its own, translate the driver's errors to ``errors.py``, add its URL scheme to
``open_store`` and its URL to the conformance suite's list.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from smalltown.store import values
from smalltown.store.errors import ConflictError
from smalltown.store.schema import Schema, Table, VectorIndex


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    creation_time: float
    body: dict[str, Any]

    def document(self) -> dict[str, Any]:
        return {"_id": self.id, "_creationTime": self.creation_time, **self.body}


@dataclass(frozen=True, slots=True)
class VectorEntry:
    """A row's vector for one vector index, and the encoded keys of its filter fields."""

    vector: np.ndarray  # float32, as given (not normalised)
    filters: tuple[bytes, ...]


class PreparedRow(NamedTuple):
    """A document already validated and encoded for its table (``prepared.py``): a bulk
    insert moves it as is, so an import does that work once, before writing anything.
    A tuple: an import makes one per document, and this is the cheapest to make."""

    id: str
    number: int  # the table number its id carries
    creation_time: float
    encoded: str  # the body as stored JSON
    keys: dict[str, bytes]  # by index name, ``by_id`` included
    vectors: dict[str, VectorEntry]  # by vector index name; absent: not in that index


VectorFilter = Sequence[tuple[int, Sequence[bytes]]]
"""Per filter field (by position in the index), the encoded values any of which may match;
conditions on different fields must all hold."""


class RetryableConflict(ConflictError):
    """Raised by a provider when the transaction lost a race and may simply be run again."""


class ProviderTransaction(ABC):
    @abstractmethod
    async def get(self, table: Table, id: str) -> Row | None: ...

    @abstractmethod
    async def scan(
        self,
        table: Table,
        index: str,
        low: bytes,
        high: bytes | None,
        reverse: bool,
        limit: int | None,
    ) -> list[tuple[bytes, Row]]:
        """Rows whose key in ``index`` is in ``[low, high)``, in key order, with their keys."""

    @abstractmethod
    async def count(self, table: Table) -> int: ...

    async def existing_ids(self, table: Table, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are rows of ``table``. Providers answer in one query; this
        fallback asks row by row."""
        return {id for id in ids if await self.get(table, id) is not None}

    @abstractmethod
    async def insert(
        self,
        table: Table,
        row: Row,
        encoded: str,
        keys: dict[str, bytes],
        vectors: dict[str, VectorEntry],
    ) -> None:
        """Add a row; ``encoded`` is its body as stored JSON (``values.dumps``)."""

    async def insert_many(self, table: Table, rows: Sequence[PreparedRow]) -> None:
        """Add prepared rows (ids checked absent by the caller). Providers send a batch in
        one statement; this fallback inserts row by row."""
        for row in rows:
            body = Row(row.id, row.creation_time, values.loads(row.encoded))
            await self.insert(table, body, row.encoded, row.keys, row.vectors)

    @abstractmethod
    async def update(
        self,
        table: Table,
        row: Row,
        encoded: str,
        keys: dict[str, bytes],
        vectors: dict[str, VectorEntry | None],
    ) -> None:
        """Replace a row's body, keys and vectors (``None``: the row leaves that vector index)."""

    @abstractmethod
    async def delete(self, table: Table, id: str) -> None: ...

    async def delete_many(self, table: Table, ids: Sequence[str]) -> None:
        """Remove rows (ids checked present by the caller). Providers send a batch in one
        statement; this fallback deletes row by row."""
        for id in ids:
            await self.delete(table, id)

    @abstractmethod
    async def vector_search(
        self,
        table: Table,
        index: VectorIndex,
        query: np.ndarray,
        limit: int,
        filters: VectorFilter,
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the nearest rows, best first; sees own writes."""


class Provider(ABC):
    #: the URL with any password masked, for messages and /health
    display_url: str
    name: str

    @abstractmethod
    async def apply_schema(self, schema: Schema) -> dict[str, int]:
        """Create or migrate tables and indexes; return every table's number (stable)."""

    async def stored_definitions(self) -> dict[str, dict[str, Any]]:
        """Each stored table's description (``Table.describe()``) as last applied, by name;
        empty for a new database."""
        return {}

    @abstractmethod
    def transaction(self, read_only: bool) -> AbstractAsyncContextManager[ProviderTransaction]:
        """Commit when the block exits normally, roll back when it raises.

        Raise :class:`RetryableConflict` when the transaction lost a race.
        """

    async def begin_bulk_load(self, table: Table) -> None:
        """A bulk load into ``table`` starts (it may already hold rows of an interrupted
        one): a provider may suspend index upkeep that is cheaper to do once at the end."""
        return None

    async def end_bulk_load(self, table: Table) -> None:
        """The bulk load into ``table`` is over: restore what ``begin_bulk_load`` suspended."""
        return None

    @abstractmethod
    async def renumber(self, numbers: dict[str, int]) -> None:
        """Give tables new numbers, in one transaction (the store checks they are empty)."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise a StoreError unless the database answers a trivial query."""

    @abstractmethod
    async def close(self) -> None: ...
