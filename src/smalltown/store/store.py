"""The store: one URL in, one async document database out.

    store = await open_store("sqlite:///./data/smalltown.db", schema)
    result = await store.transact(my_transaction)   # value, reads, writes, commit ts

Providers are imported only when their scheme is asked for, so the SQLite default needs no
PostgreSQL or MongoDB driver installed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from smalltown.store.base import Provider, RetryableConflict
from smalltown.store.clock import Clock
from smalltown.store.errors import ConflictError, SchemaError, StoreConnectionError
from smalltown.store.ranges import KeyRange, Write
from smalltown.store.schema import Schema, Table, next_number
from smalltown.store.transaction import Transaction
from smalltown.store.urls import is_database_url, mask_password, scheme

log = logging.getLogger("smalltown.store")
T = TypeVar("T")
DEFAULT_MAX_ATTEMPTS = 64


@dataclass(frozen=True, slots=True)
class Committed(Generic[T]):
    """A finished transaction: its value, what it read and wrote, its commit timestamp,
    and the encoded size of its writes (``Transaction.bytes_written``)."""

    value: T
    reads: tuple[KeyRange, ...]
    writes: tuple[Write, ...]
    ts: int
    bytes_written: int = 0


CommitListener = Callable[[int, tuple[Write, ...]], None]


class Store:
    """The database, through its schema: the tables opened or applied (``declared``) and
    every other table the database holds (``undeclared``: tables an import brought in, or
    an earlier app declared), kept as Convex keeps tables no schema declares, with the
    indexes they were stored with (``by_id`` and ``by_creation_time`` at least)."""

    def __init__(
        self,
        provider: Provider,
        schema: Schema,
        table_numbers: dict[str, int],
        undeclared: frozenset[str] = frozenset(),
    ) -> None:
        self._provider = provider
        self._schema = schema
        self._numbers = table_numbers
        self._undeclared = undeclared
        self._clock = Clock()
        self._listeners: list[CommitListener] = []
        self._closed = False

    @property
    def provider_name(self) -> str:
        return self._provider.name

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return self._provider.display_url

    @property
    def schema(self) -> Schema:
        return self._schema

    @property
    def table_numbers(self) -> dict[str, int]:
        return dict(self._numbers)

    @property
    def undeclared(self) -> frozenset[str]:
        """Tables the database holds that the schema given to ``open_store`` (or the last
        ``apply_schema``) does not declare."""
        return self._undeclared

    @property
    def last_commit_ts(self) -> int:
        return self._clock.last_ts

    def observe_commit(self, ts: int) -> None:
        """Another process sharing the database committed at ``ts`` (see ``Clock.observe``)."""
        self._clock.observe(ts)

    async def apply_schema(self, schema: Schema, undeclared: Iterable[str] | None = None) -> None:
        """Create or migrate tables and indexes to match ``schema``. Undeclared are the
        tables the database holds that it lacks, and those named in ``undeclared``; by
        default, the undeclared tables of this store's schema that ``schema`` carries over
        as they are (``store.schema.merged(...)`` changes nothing for them)."""
        if undeclared is None:
            undeclared = [
                t.name
                for t in schema.tables
                if t.name in self._undeclared and self._schema.table(t.name) is t
            ]
        schema, kept = await _with_stored_tables(self._provider, schema)
        self._numbers = await _apply_schema(self._provider, schema)
        self._schema = schema
        self._undeclared = kept | (frozenset(undeclared) & set(self._numbers))

    async def add_undeclared_tables(self, names: Iterable[str]) -> None:
        """Create tables no schema declares (an import's), with the default indexes."""
        new = [Table(name) for name in names if name not in self._schema]
        if new:
            await self.apply_schema(
                self._schema.merged(new), self._undeclared | {t.name for t in new}
            )

    async def set_table_numbers(self, wanted: dict[str, int]) -> None:
        """Give tables the numbers their ids must carry (an import keeps Convex's numbers).

        A table that changes number must be empty, since its ids embed the number; a table
        that holds a wanted number is moved to a free one (it must be empty too).
        """
        current = dict(self._numbers)
        final = {**current, **wanted}
        taken = set(final.values())
        for name, number in current.items():
            if name not in wanted and number in wanted.values():
                final[name] = next_number(taken, name)
                taken.add(final[name])
        changed = {name: n for name, n in final.items() if current.get(name) != n}
        if not changed:
            return

        async def counts(tx: Transaction) -> dict[str, int]:
            return {name: await tx.count(name) for name in changed}

        busy = [name for name, n in (await self.read(counts)).items() if n]
        if busy:
            raise SchemaError(
                "cannot renumber tables that hold documents (their ids carry the number): "
                + ", ".join(f"{name} ({current[name]} → {changed[name]})" for name in busy)
                + "; import into an empty database"
            )
        await self._provider.renumber(changed)
        self._numbers = final

    async def begin_bulk_load(self, table: str) -> None:
        """An import into ``table`` starts: index upkeep that is cheaper done once at the
        end may be suspended (PostgreSQL's HNSW index). Call again to resume after an
        interruption; the table still answers every query meanwhile."""
        await self._provider.begin_bulk_load(self._schema.table(table))

    async def end_bulk_load(self, table: str) -> None:
        """The import into ``table`` is over: build what ``begin_bulk_load`` suspended."""
        await self._provider.end_bulk_load(self._schema.table(table))

    async def stored_definitions(self) -> dict[str, dict[str, Any]]:
        """Every table the database holds, as last applied (``Table.describe()``), by name."""
        return await self._provider.stored_definitions()

    def on_commit(self, listener: CommitListener) -> Callable[[], None]:
        """Call ``listener(ts, writes)`` after every committed write; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def transact(
        self,
        fn: Callable[[Transaction], Awaitable[T]],
        *,
        read_only: bool = False,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> Committed[T]:
        """Run ``fn`` in a serializable transaction, again if it lost a race.

        ``fn`` may run several times, so it must not have effects outside the transaction.
        An exception from ``fn`` rolls everything back and propagates unchanged.
        """
        if self._closed:
            raise StoreConnectionError(f"{self.url}: this store is closed")
        delay = 0.001
        for attempt in range(1, max_attempts + 1):
            try:
                async with self._provider.transaction(read_only) as ptx:
                    tx = Transaction(ptx, self._schema, self._numbers, read_only, self._clock)
                    value = await fn(tx)
                ts = self._clock.commit_ts() if tx.writes else self._clock.last_ts
            except RetryableConflict as exc:
                if attempt == max_attempts:
                    raise ConflictError(
                        f"transaction still conflicted after {max_attempts} attempts: {exc}; "
                        "it touches data other transactions write constantly"
                    ) from exc
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 0.05)
                continue
            writes = tx.writes
            if writes:
                for listener in list(self._listeners):
                    try:
                        listener(ts, writes)
                    except Exception:
                        log.exception("commit listener failed")
            return Committed(value, tx.reads, writes, ts, tx.bytes_written)
        raise AssertionError("unreachable")

    async def run(self, fn: Callable[[Transaction], Awaitable[T]], **kwargs: Any) -> T:
        """``transact`` for callers that want only the value."""
        return (await self.transact(fn, **kwargs)).value

    async def read(self, fn: Callable[[Transaction], Awaitable[T]]) -> T:
        return (await self.transact(fn, read_only=True)).value

    async def delete_all(self, table: str, batch: int = 500, **query: Any) -> int:
        """Empty ``table``, or delete what ``query`` (``index``, ``eq``, ``range``, as
        ``Transaction.query`` takes them) finds in it, ``batch`` documents a transaction
        (one would hold them all); returns how many went. Not atomic: a failure leaves
        part done, and running it again finishes."""
        deleted = 0
        while went := await self.run(lambda tx: tx.delete_some(table, batch, **query)):
            deleted += went
        return deleted

    async def ping(self) -> None:
        """Raise a StoreError unless the database answers."""
        await self._provider.ping()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._provider.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_store(url: str, schema: Schema | None = None) -> Store:
    """Open the database at ``url`` with ``schema``: ``sqlite:///path``, ``postgresql://...``
    or ``mongodb://...``."""
    if not is_database_url(url):
        raise StoreConnectionError(
            f"{mask_password(str(url))!r} is not a database URL; use sqlite:///path/to/file.db, "
            "postgresql://user@host:5432/dbname or mongodb://host:27017/dbname?replicaSet=rs0"
        )
    kind = scheme(url)
    provider: Provider
    if kind == "sqlite":
        from smalltown.store.sqlite import SqliteProvider

        provider = await SqliteProvider.open(url)
    elif kind in ("postgresql", "postgres"):
        try:
            from smalltown.store.postgres import PostgresProvider
        except ImportError as exc:
            raise StoreConnectionError(
                f"{mask_password(url)}: the PostgreSQL driver is not installed "
                "(pip install 'smalltown[postgres]')"
            ) from exc
        provider = await PostgresProvider.open(url)
    elif kind in ("mongodb", "mongodb+srv"):
        try:
            from smalltown.store.mongo import MongoProvider
        except ImportError as exc:
            raise StoreConnectionError(
                f"{mask_password(url)}: the MongoDB driver is not installed "
                "(pip install 'smalltown[mongo]')"
            ) from exc
        provider = await MongoProvider.open(url)
    else:
        raise StoreConnectionError(
            f"{mask_password(url)}: unknown database scheme {kind!r}; "
            "use sqlite://, postgresql:// or mongodb://"
        )
    schema = schema or Schema([])
    try:
        schema, undeclared = await _with_stored_tables(provider, schema)
        numbers = await _apply_schema(provider, schema)
    except BaseException:
        await provider.close()
        raise
    return Store(provider, schema, numbers, undeclared)


async def _apply_schema(
    provider: Provider, schema: Schema, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> dict[str, int]:
    """``provider.apply_schema``, again when it lost a race: processes starting together on
    one new database all write the table metadata, and on MongoDB all but one conflict."""
    delay = 0.001
    for attempt in range(1, max_attempts + 1):
        try:
            return await provider.apply_schema(schema)
        except RetryableConflict as exc:
            if attempt == max_attempts:
                raise ConflictError(
                    f"the schema could not be applied after {max_attempts} attempts: {exc}"
                ) from exc
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.05)
    raise AssertionError("unreachable")


async def _with_stored_tables(provider: Provider, schema: Schema) -> tuple[Schema, frozenset[str]]:
    """``schema`` with its ``keep_stored_dimensions`` vector indexes at their built size,
    and every table the database holds that it lacks, as stored; and those tables' names."""
    stored = await provider.stored_definitions()
    if any(v.keep_stored_dimensions for t in schema.tables for v in t.vector_indexes):
        schema = schema.keeping_stored_dimensions(stored)
    kept = [Table.from_description(n, d) for n, d in sorted(stored.items()) if n not in schema]
    if not kept:
        return schema, frozenset()
    return schema.merged(kept), frozenset(t.name for t in kept)
