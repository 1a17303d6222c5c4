"""MongoDB, through pymongo's asyncio client.

Layout: a collection ``st_<table>`` per table whose documents are
``{_id: <Convex id>, ct, doc: <the body, native BSON>, k: {<index>: <hex key>}, v: {<vector
index>: <float32 bytes>}, f: {<vector index>: [<hex filter keys>]}}``, with a unique index on
each ``k.<index>``. Hex text compares byte by byte in MongoDB's default (binary) string
order, so ranges over ``k`` follow the same order as every other provider.

Isolation: MongoDB transactions are snapshot isolation, which alone allows write skew.
Every write transaction therefore also increments one clock document, so any two write
transactions that overlap in time conflict on it and one of them is retried: committed
writers are serial, and read-only transactions read one snapshot. Within one process,
writers also queue on a lock so they do not spin against each other.

Vector search: MongoDB's own ``$vectorSearch`` exists only on Atlas and Atlas-compatible
servers; smalltown searches exactly in memory instead (as on SQLite), with vectors kept in
step with the commit clock (``exact_vectors.VectorMemory``), so other processes' writes
are seen too.

When the server goes away, a call fails fast rather than waiting out pymongo's server
selection (10 s): once a connection failed, or the client's monitor finds no primary,
every call runs under a ``FAIL_FAST_SECONDS`` deadline and fails with
``StoreConnectionError`` ("MongoDB is unavailable: ..."); the first call that gets through
ends the outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pymongo
from bson import Binary, Int64
from pymongo import (
    ASCENDING,
    AsyncMongoClient,
    DeleteMany,
    DeleteOne,
    InsertOne,
    ReplaceOne,
    ReturnDocument,
)
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    InvalidURI,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from pymongo.monitoring import TopologyDescriptionChangedEvent, TopologyListener
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from smalltown.store.base import (
    Provider,
    ProviderTransaction,
    RetryableConflict,
    Row,
    VectorEntry,
    VectorFilter,
)
from smalltown.store.errors import (
    StoreConnectionError,
    StoreError,
)
from smalltown.store.exact_vectors import ExactVectorIndex, VectorChanges, VectorMemory
from smalltown.store.rows import rewrite_row
from smalltown.store.schema import Schema, Table, VectorIndex, index_changes, plan_tables
from smalltown.store.urls import database_name, mask_password, option_names
from smalltown.store.values import all_floats

log = logging.getLogger("smalltown.store.mongo")
P = ParamSpec("P")
T = TypeVar("T")
#: how long a call may take while the server is known to be away (s): then it fails,
#: saying so, as on PostgreSQL
FAIL_FAST_SECONDS = 1.0
OPEN_SECONDS = 10  # how long opening the store waits for the server
META = "_smalltown_tables"
CLOCK = "_smalltown_clock"
DEFAULT_DATABASE = "smalltown"
WRITE_CONFLICT = 112
REPLICA_SET_HELP = (
    "MongoDB allows multi-document transactions only on a replica set. Start mongod as a "
    "single-node replica set: `mongod --replSet rs0 --bind_ip 127.0.0.1 --dbpath DIR`, run "
    "`mongosh --eval 'rs.initiate()'` once, then use "
    "mongodb://127.0.0.1:27017/smalltown?replicaSet=rs0"
)


def _collection_name(t: Table | str) -> str:
    return f"st_{t if isinstance(t, str) else t.name}"


def _first_line(exc: BaseException) -> str:
    """pymongo's message without the topology description it appends."""
    text = str(exc).split(", Timeout:")[0].split(", Topology Description:")[0]
    return text.split(" (configured timeouts:")[0][:200]


def _translate(exc: PyMongoError) -> StoreError:
    if isinstance(exc, ConnectionFailure):
        return StoreConnectionError(f"MongoDB is unavailable: {_first_line(exc)}")
    if exc.has_error_label("TransientTransactionError") or (
        isinstance(exc, OperationFailure) and exc.code == WRITE_CONFLICT
    ):
        return RetryableConflict(f"MongoDB: {exc}")
    return StoreError(f"MongoDB error: {exc}")


def _mapped(fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Let no pymongo error escape a provider method."""

    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except PyMongoError as exc:
            raise _translate(exc) from exc

    return wrapper


class _Primary(TopologyListener):
    """Whether the client's monitor last saw a server that takes writes: when it finds
    none (the server stopped), calls fail fast before any of them has failed."""

    def __init__(self) -> None:
        self.seen = True

    def opened(self, event: Any) -> None:
        pass

    def closed(self, event: Any) -> None:
        pass

    def description_changed(self, event: TopologyDescriptionChangedEvent) -> None:
        self.seen = event.new_description.has_writable_server()


def _from_bson(value: Any) -> Any:
    """Plain Python values: BSON's Int64 wrapper becomes int (it is one already)."""
    if isinstance(value, dict):
        return {k: _from_bson(v) for k, v in value.items()}
    if isinstance(value, list):
        if all_floats(value):  # an embedding: nothing to convert
            return value
        return [_from_bson(v) for v in value]
    if isinstance(value, Int64):
        return int(value)
    return value


def _to_bson(value: Any) -> Any:
    """Int64 stays Int64 whatever its size, so the type survives a round trip."""
    if isinstance(value, dict):
        return {k: _to_bson(v) for k, v in value.items()}
    if isinstance(value, list):
        if all_floats(value):  # an embedding: nothing to convert
            return value
        return [_to_bson(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return Int64(value)
    return value


def _row(stored: dict[str, Any]) -> Row:
    return Row(stored["_id"], stored["ct"], _from_bson(stored["doc"]))


class MongoTransaction(ProviderTransaction):
    """Queues writes and sends them as one ordered bulk write per collection before the
    next read or the commit. Writes were validated above this layer."""

    def __init__(self, provider: MongoProvider, session: AsyncClientSession | None) -> None:
        self._p = provider
        self._session = session
        self._queued: list[tuple[str, Any]] = []
        self.vector_changes: VectorChanges = {}

    async def flush(self) -> None:
        queued, self._queued = self._queued, []
        i = 0
        while i < len(queued):  # one bulk write per run of operations on one collection
            name = queued[i][0]
            ops = []
            while i < len(queued) and queued[i][0] == name:
                ops.append(queued[i][1])
                i += 1
            await self._p.db[name].bulk_write(ops, ordered=True, session=self._session)

    @_mapped
    async def get(self, table: Table, id: str) -> Row | None:
        await self.flush()
        found = await self._p.db[_collection_name(table)].find_one(
            {"_id": id}, {"ct": 1, "doc": 1}, session=self._session
        )
        return None if found is None else _row(found)

    @_mapped
    async def scan(
        self,
        table: Table,
        index: str,
        low: bytes,
        high: bytes | None,
        reverse: bool,
        limit: int | None,
    ) -> list[tuple[bytes, Row]]:
        await self.flush()
        field = f"k.{index}"
        bounds: dict[str, str] = {"$gte": low.hex()}
        if high is not None:
            bounds["$lt"] = high.hex()
        cursor = (
            self._p.db[_collection_name(table)]
            .find({field: bounds}, {"ct": 1, "doc": 1, field: 1}, session=self._session)
            .sort(field, -1 if reverse else 1)
        )
        if limit is not None:
            if limit == 0:
                return []
            cursor = cursor.limit(limit)
        return [(bytes.fromhex(d["k"][index]), _row(d)) async for d in cursor]

    @_mapped
    async def count(self, table: Table) -> int:
        await self.flush()
        return await self._p.db[_collection_name(table)].count_documents({}, session=self._session)

    @_mapped
    async def existing_ids(self, table: Table, ids: Sequence[str]) -> set[str]:
        await self.flush()
        cursor = self._p.db[_collection_name(table)].find(
            {"_id": {"$in": list(ids)}}, {"_id": 1}, session=self._session
        )
        return {d["_id"] async for d in cursor}

    def _stored(
        self, table: Table, row: Row, keys: dict[str, bytes], vectors: dict[str, Any]
    ) -> dict[str, Any]:
        stored: dict[str, Any] = {
            "_id": row.id,
            "ct": row.creation_time,
            "doc": _to_bson(row.body),
            "k": {ix.name: keys[ix.name].hex() for ix in table.all_indexes},
            "v": {},
            "f": {},
        }
        for v in table.vector_indexes:
            entry = vectors.get(v.name)
            if entry is not None:
                stored["v"][v.name] = Binary(entry.vector.tobytes())
                stored["f"][v.name] = [key.hex() for key in entry.filters]
            self.vector_changes.setdefault((table.name, v.name), {})[row.id] = entry
        return stored

    async def insert(
        self,
        table: Table,
        row: Row,
        encoded: str,
        keys: dict[str, bytes],
        vectors: dict[str, VectorEntry],
    ) -> None:
        stored = self._stored(table, row, keys, vectors)
        self._queued.append((_collection_name(table), InsertOne(stored)))

    async def update(
        self,
        table: Table,
        row: Row,
        encoded: str,
        keys: dict[str, bytes],
        vectors: dict[str, VectorEntry | None],
    ) -> None:
        stored = self._stored(table, row, keys, vectors)
        self._queued.append((_collection_name(table), ReplaceOne({"_id": row.id}, stored)))

    async def delete(self, table: Table, id: str) -> None:
        await self.delete_many(table, [id])

    async def delete_many(self, table: Table, ids: Sequence[str]) -> None:
        one = len(ids) == 1
        op = DeleteOne({"_id": ids[0]}) if one else DeleteMany({"_id": {"$in": list(ids)}})
        self._queued.append((_collection_name(table), op))
        for v in table.vector_indexes:
            self.vector_changes.setdefault((table.name, v.name), {}).update(dict.fromkeys(ids))

    @_mapped
    async def vector_search(
        self,
        table: Table,
        index: VectorIndex,
        query: np.ndarray,
        limit: int,
        filters: VectorFilter,
    ) -> list[tuple[str, float]]:
        await self.flush()
        clock = await self._p.db[CLOCK].find_one({"_id": "commits"}, session=self._session)
        indexes = await self._p.vectors.at_least(clock["seq"] if clock else 0)
        overlay = self.vector_changes.get((table.name, index.name))
        return indexes[(table.name, index.name)].search(query, limit, filters, overlay)


class MongoProvider(Provider):
    name = "mongo"

    def __init__(
        self,
        url: str,
        client: AsyncMongoClient[dict[str, Any]],
        database: str,
        primary: _Primary | None = None,
    ) -> None:
        self.display_url = mask_password(url)
        self._client = client
        self._primary = primary or _Primary()
        self._lost: str | None = None  # why the last call failed to reach the server
        self.db = client[database]
        self._write_lock = asyncio.Lock()
        self._tables: dict[str, Table] = {}
        self.vectors = VectorMemory(self._load_vectors)

    @classmethod
    async def open(cls, url: str) -> MongoProvider:
        shown = mask_password(url)
        try:
            database = database_name(url) or DEFAULT_DATABASE
            given = option_names(url)
            # Server selection waits at most FAIL_FAST_SECONDS: a healthy server is
            # selected at once, and a call while it is away (a retried write's second
            # try included) fails fast rather than after pymongo's 10 s. Opening waits
            # longer, trying again, for a server that is still starting.
            defaults: dict[str, Any] = {
                name: value
                for name, value in (
                    ("serverSelectionTimeoutMS", int(FAIL_FAST_SECONDS * 1000)),
                    ("connectTimeoutMS", OPEN_SECONDS * 1000),
                )
                if name.lower() not in given  # the URL's own options win
            }
            primary = _Primary()
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                url, tz_aware=False, event_listeners=[primary], **defaults
            )
        except (InvalidURI, ConfigurationError, ValueError) as exc:
            raise StoreConnectionError(f"{shown}: malformed MongoDB URL: {exc}") from exc
        patient = "serverselectiontimeoutms" not in given
        deadline = asyncio.get_running_loop().time() + OPEN_SECONDS
        while True:
            try:
                hello = await client.admin.command("hello")
                break
            except ServerSelectionTimeoutError:
                if patient and asyncio.get_running_loop().time() < deadline:
                    continue
                await client.close()
                raise StoreConnectionError(
                    f"{shown}: cannot connect: no server within {OPEN_SECONDS} s"
                ) from None
            except PyMongoError as exc:
                await client.close()
                reason = str(exc).split(", Timeout:")[0]
                raise StoreConnectionError(f"{shown}: cannot connect: {reason}") from exc
        if not hello.get("setName") and hello.get("msg") != "isdbgrid":
            await client.close()
            raise StoreConnectionError(f"{shown}: this server is a standalone. {REPLICA_SET_HELP}")
        primary.seen = True
        return cls(url, client, database, primary)

    def _deadline(self) -> AbstractContextManager[Any]:
        """While the server is known to be away, the ``FAIL_FAST_SECONDS`` a call may take."""
        if self._lost is None and self._primary.seen:
            return nullcontext()
        return pymongo.timeout(FAIL_FAST_SECONDS)

    def _lose(self, exc: StoreConnectionError) -> None:
        """The server could not be reached: until it answers again, calls fail fast."""
        if self._lost is None:
            log.warning("%s: %s", self.display_url, exc)
        self._lost = str(exc)

    def _reached(self) -> None:
        if self._lost is not None:
            log.info("%s: the server answers again", self.display_url)
            self._lost = None

    @asynccontextmanager
    async def transaction(self, read_only: bool) -> AsyncIterator[MongoTransaction]:
        with self._deadline():
            try:
                async with self._transaction(read_only) as tx:
                    yield tx
            except StoreConnectionError as exc:
                self._lose(exc)
                raise
        self._reached()

    @asynccontextmanager
    async def _transaction(self, read_only: bool) -> AsyncIterator[MongoTransaction]:
        try:
            if read_only:
                async with self._client.start_session(snapshot=True) as session:
                    yield MongoTransaction(self, session)
                return
            async with self._write_lock, self._client.start_session() as session:
                await session.start_transaction(
                    read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
                )
                tx = MongoTransaction(self, session)
                try:
                    yield tx
                    await tx.flush()
                    seq = await self._tick(session)
                    await session.commit_transaction()
                except BaseException:
                    if session.in_transaction:
                        await session.abort_transaction()
                    raise
                self.vectors.committed(seq, tx.vector_changes)
        except PyMongoError as exc:
            raise _translate(exc) from exc

    @_mapped
    async def apply_schema(self, schema: Schema) -> dict[str, int]:
        async with self._write_lock, self._client.start_session() as session:
            await session.start_transaction(write_concern=WriteConcern("majority"))
            try:
                numbers = await self._apply(schema, session)
                await self._tick(session)
                await session.commit_transaction()
            except BaseException:
                if session.in_transaction:
                    await session.abort_transaction()
                raise
        # Index builds are not allowed inside transactions on every server; they are
        # idempotent, so they run after the metadata commit.
        for table in schema.tables:
            await self._ensure_indexes(table)
        self._tables = {t.name: t for t in schema.tables}
        self.vectors.forget()  # loaded by the first vector search
        return numbers

    async def _tick(self, session: AsyncClientSession) -> int:
        """Advance the commit clock inside ``session``'s transaction; the new value."""
        clock = await self.db[CLOCK].find_one_and_update(
            {"_id": "commits"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if clock is None:  # an upsert returning the document AFTER it always returns one
            raise StoreError("MongoDB returned no commit clock after advancing it")
        seq: int = clock["seq"]
        return seq

    async def stored_definitions(self) -> dict[str, dict[str, Any]]:
        return {d["_id"]: d["definition"] async for d in self.db[META].find({})}

    async def _apply(self, schema: Schema, session: AsyncClientSession) -> dict[str, int]:
        stored = {
            d["_id"]: (d["number"], d["definition"])
            async for d in self.db[META].find({}, session=session)
        }
        numbers: dict[str, int] = {}
        for table, number, definition in plan_tables(schema, stored):
            if definition is None:
                await self.db[META].insert_one(
                    {"_id": table.name, "number": number, "definition": table.describe()},
                    session=session,
                )
            else:
                await self._migrate(table, definition, session)
            numbers[table.name] = number
        return numbers

    async def _migrate(
        self, table: Table, stored: dict[str, Any], session: AsyncClientSession
    ) -> None:
        drop, build = index_changes(stored, table)
        if not drop and not build:
            return
        collection = self.db[_collection_name(table)]
        tx = MongoTransaction(self, session)
        async for d in collection.find({}, session=session):
            await rewrite_row(tx, table, _row(d))
        await tx.flush()
        await self.db[META].update_one(
            {"_id": table.name}, {"$set": {"definition": table.describe()}}, session=session
        )

    async def _ensure_indexes(self, table: Table) -> None:
        collection = self.db[_collection_name(table)]
        wanted = {f"k_{ix.name}" for ix in table.all_indexes}
        existing = {ix["name"] async for ix in await collection.list_indexes()}
        for name in existing - wanted - {"_id_"}:
            await collection.drop_index(name)
        for ix in table.all_indexes:
            if f"k_{ix.name}" not in existing:
                await collection.create_index(
                    [(f"k.{ix.name}", ASCENDING)], name=f"k_{ix.name}", unique=True
                )

    async def _load_vectors(self) -> tuple[int, dict[tuple[str, str], ExactVectorIndex]]:
        """The clock and every vector, read in one snapshot."""
        indexes = {}
        async with self._client.start_session(snapshot=True) as session:
            clock = await self.db[CLOCK].find_one({"_id": "commits"}, session=session)
            for table in self._tables.values():
                for v in table.vector_indexes:
                    exact = ExactVectorIndex(v.dimensions, len(v.filter_fields))
                    cursor = self.db[_collection_name(table)].find(
                        {f"v.{v.name}": {"$exists": True}},
                        {f"v.{v.name}": 1, f"f.{v.name}": 1},
                        session=session,
                    )
                    async for d in cursor:
                        exact.upsert(
                            d["_id"],
                            VectorEntry(
                                np.frombuffer(d["v"][v.name], dtype=np.float32),
                                tuple(bytes.fromhex(h) for h in d["f"][v.name]),
                            ),
                        )
                    indexes[(table.name, v.name)] = exact
        return (clock["seq"] if clock else 0), indexes

    @_mapped
    async def renumber(self, numbers: dict[str, int]) -> None:
        async with self._write_lock, self._client.start_session() as session:
            await session.start_transaction(write_concern=WriteConcern("majority"))
            try:
                for name, number in numbers.items():
                    await self.db[META].update_one(
                        {"_id": name}, {"$set": {"number": number}}, session=session
                    )
                await self._tick(session)
                await session.commit_transaction()
            except BaseException:
                if session.in_transaction:
                    await session.abort_transaction()
                raise

    async def ping(self) -> None:
        with self._deadline():
            try:
                await self._client.admin.command("ping")
            except PyMongoError as exc:
                error = _translate(exc)
                if isinstance(error, StoreConnectionError):
                    self._lose(error)
                raise error from exc
        self._reached()

    async def close(self) -> None:
        await self._client.close()
