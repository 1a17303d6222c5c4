"""PostgreSQL + pgvector, through psycopg 3's async pool.

Layout: a table ``st_<name>`` per table with ``id``, ``ct``, ``doc`` (JSON text as stored,
readable from psql, compressed with LZ4 where the server has it), one ``bytea`` key column
``k_<index>`` per index under a unique B-tree (bytea compares bytewise, which is the order
``keys.py`` encodes), and per vector index a ``vector(n)`` column ``v_<index>`` under an
HNSW cosine index plus ``bytea`` filter columns ``f_<index>_<n>``.

Write transactions run at SERIALIZABLE and are retried by the store on serialization
failures and deadlocks; read-only ones run at REPEATABLE READ, one snapshot each. Filtered
vector search uses pgvector's iterative index scans, so a selective filter still fills
``limit``; the planner may instead pick the filter's B-tree and an exact sort.

When the server goes away (a restart, ``pg_terminate_backend``, a network cut), the pool's
connections die with it: one found dead as its transaction begins is replaced by the next,
and while the server is known to be away a call waits at most ``FAIL_FAST_SECONDS`` for a
connection, then fails with ``StoreConnectionError`` instead of hanging; the pool keeps
reconnecting, and the first call that gets through ends the outage.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import numpy as np
import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import IsolationLevel, pq
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from smalltown.store import values
from smalltown.store.base import (
    PreparedRow,
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
from smalltown.store.rows import rewrite_row
from smalltown.store.schema import (
    BY_CREATION_TIME,
    Schema,
    Table,
    VectorIndex,
    index_changes,
    plan_tables,
)
from smalltown.store.urls import mask_password, postgres_conninfo

log = logging.getLogger("smalltown.store.postgres")
P = ParamSpec("P")
T = TypeVar("T")
META = "_smalltown_tables"
HNSW_MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on vector(n)
EF_SEARCH = 200
EXACT_SEARCH_ROWS = 5000  # a filter matching at most this many rows is searched exactly
POOL_MAX = 16
#: seconds a call waits for a pooled connection while all are busy: a burst queues
POOL_WAIT_SECONDS = 30.0
#: ... and while the server is known to be away: the call fails fast, saying so
FAIL_FAST_SECONDS = 1.0
#: the pool tries to reconnect twice, this long apart, then again only when a call wants
#: a connection: a call once the server is back connects at once (psycopg_pool's own
#: back-off would double its wait up to minutes)
RECONNECT_SECONDS = 0.5
#: psycopg_pool warns of each failed connection attempt; during an outage one such line
#: a minute is kept (ours say when the server went away and when it answers again)
POOL_WARNINGS_EVERY_SECONDS = 60.0
#: a new connection to a server that does not answer (a network cut) is given up after
#: this long (libpq's connect_timeout), unless the URL sets its own
CONNECT_SECONDS = 5
# maintenance_work_mem while an HNSW index is built after a bulk load: the graph of about
# 100,000 vectors of 1024 dimensions fits; beyond that pgvector builds on, more slowly.
BUILD_MEMORY = "512MB"
PING_WAIT_SECONDS = 5.0  # /health's wait for a connection while the pool is busy
_SCHEMA_LOCK = 0x736D616C6C  # pg_advisory_xact_lock key: one schema change at a time


def _q(name: str) -> str:
    return f'"{name}"'  # names are validated by schema.py: letters, digits, underscores


def _table_sql(t: Table | str) -> str:
    return _q(f"st_{t if isinstance(t, str) else t.name}")


def _filter_columns(name: str, filter_count: int) -> list[str]:
    return [f"f_{name}_{i}" for i in range(filter_count)]


def _btree_sql(table: Table, ix_name: str) -> str:
    name = _q(f"ix_{table.name}_{ix_name}")
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {_table_sql(table)} ({_q(f'k_{ix_name}')})"


def _any_id(ids: Sequence[str]) -> tuple[str, list[Any]]:
    """A condition "the id is one of ``ids``" and its parameters. psycopg writes a list
    parameter item by item in Python (each string searched for characters to quote),
    which cost an import more than its query; the ids as one string, split by PostgreSQL,
    cost nothing. Ids never hold a line break, but should one, the list goes as a list."""
    joined = "\n".join(ids)
    if joined.count("\n") == len(ids) - 1:
        return "id = ANY(string_to_array(%s, %s))", [joined, "\n"]
    return "id = ANY(%s)", [list(ids)]


def _filter_sql(table: Table, v: VectorIndex, i: int) -> str:
    name = _q(f"fx_{table.name}_{v.name}_{i}")
    return f"CREATE INDEX IF NOT EXISTS {name} ON {_table_sql(table)} ({_q(f'f_{v.name}_{i}')})"


def _load_indexes(table: Table) -> list[tuple[str, str]]:
    """The indexes a bulk load into an empty table drops and builds once at its end (all
    but the id's): each name, and the statement making it."""
    out = [(f"ix_{table.name}_{ix.name}", _btree_sql(table, ix.name)) for ix in table.all_indexes]
    for v in table.vector_indexes:
        out += [
            (f"fx_{table.name}_{v.name}_{i}", _filter_sql(table, v, i))
            for i in range(len(v.filter_fields))
        ]
        if v.dimensions <= HNSW_MAX_DIMENSIONS:
            out.append((f"vx_{table.name}_{v.name}", _hnsw_sql(table, v, if_not_exists=True)))
    return out


def _hnsw_sql(table: Table, v: VectorIndex, if_not_exists: bool = False) -> str:
    exists = "IF NOT EXISTS " if if_not_exists else ""
    return (
        f"CREATE INDEX {exists}{_q(f'vx_{table.name}_{v.name}')} ON {_table_sql(table)} "
        f"USING hnsw ({_q(f'v_{v.name}')} vector_cosine_ops)"
    )


async def _compress_with_lz4(conn: psycopg.AsyncConnection, table: Table, column: str) -> None:
    """LZ4 rather than the default pglz for a column's large values: it compresses
    several times faster (an embedding's JSON, above all), for a little more disk. A
    server built without LZ4 keeps pglz."""
    try:
        async with conn.transaction():  # a savepoint: the refusal must not end the schema's
            await conn.execute(
                f"ALTER TABLE {_table_sql(table)} ALTER COLUMN {_q(column)} SET COMPRESSION lz4"
            )
    except psycopg.errors.FeatureNotSupported:
        pass


async def _json_documents(conn: psycopg.AsyncConnection, table: Table) -> None:
    """Documents as ``json`` (their stored text) rather than ``jsonb``, which tables made
    by earlier versions have. Parsing every number into ``numeric`` made writing an
    embedding several times slower, and jsonb reorders keys; nothing queries inside
    ``doc``. Rewrites the table once."""
    cur = await conn.execute(
        "SELECT format_type(atttypid, NULL) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attname = 'doc'",
        (_table_sql(table),),
    )
    found = await cur.fetchone()
    if found is not None and found[0] == "jsonb":
        log.info("PostgreSQL: storing %s's documents as json (a one-time rewrite)", table.name)
        await conn.execute(
            f"ALTER TABLE {_table_sql(table)} ALTER COLUMN doc TYPE json USING doc::json"
        )
        await _compress_with_lz4(conn, table, "doc")


async def _one_row(cur: psycopg.AsyncCursor[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The row of a query that always gives exactly one (an aggregate, ``EXISTS``)."""
    row = await cur.fetchone()
    if row is None:
        raise StoreError("PostgreSQL gave no row to a query that always gives one")
    return row


def _translate(exc: psycopg.Error) -> StoreError:
    if isinstance(exc, (pgerrors.SerializationFailure, pgerrors.DeadlockDetected)):
        return RetryableConflict(f"PostgreSQL: {exc.diag.message_primary or exc}")
    if isinstance(exc, psycopg.OperationalError):
        return StoreConnectionError(f"PostgreSQL connection failed: {exc}")
    return StoreError(f"PostgreSQL error: {exc}")


def _dead(conn: psycopg.AsyncConnection) -> bool:
    """Whether the server closed ``conn`` (or it was dropped for that): what the pool
    itself looks at, as the status may still say OK just after the socket closed."""
    return conn.closed or conn.pgconn.transaction_status == pq.TransactionStatus.UNKNOWN


class _FewerConnectWarnings(logging.Filter):
    """Let one of psycopg_pool's "error connecting" warnings through a minute."""

    def __init__(self) -> None:
        super().__init__()
        self._shown = -POOL_WARNINGS_EVERY_SECONDS

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(("error connecting", "reconnection attempt")):
            return True
        if record.created - self._shown < POOL_WARNINGS_EVERY_SECONDS:
            return False
        self._shown = record.created
        return True


_POOL_WARNINGS = _FewerConnectWarnings()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _mapped(fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Let no psycopg error escape a provider method."""

    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    return wrapper


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_LENGTH = struct.Struct(">i")
_ROW_START = struct.Struct(">hi")  # the field count, the id's length
_CT_AND_DOC_LENGTH = struct.Struct(">idi")  # float8's length 8, its value, doc's length


def _copy_columns(table: Table) -> list[str]:
    names = ["id", "ct", "doc", *(f"k_{ix.name}" for ix in table.all_indexes)]
    for v in table.vector_indexes:
        names += [f"v_{v.name}", *_filter_columns(v.name, len(v.filter_fields))]
    return names


def _copy_data(table: Table, rows: Sequence[PreparedRow]) -> bytes:
    """Rows in COPY's binary format: per row a field count, then each field as its
    length and bytes (text, json and bytea as they are, float8
    big-endian, pgvector's vector as dimensions, a spare int16 and big-endian floats)."""
    field_count = len(_copy_columns(table))
    indexes = [ix.name for ix in table.all_indexes]
    parts = [_COPY_SIGNATURE]
    add = parts.append
    for row in rows:
        id, doc = row.id.encode(), row.encoded.encode()
        # (a row's fixed fields packed two at a time: this loop is an import's own work)
        add(_ROW_START.pack(field_count, len(id)))
        add(id)
        add(_CT_AND_DOC_LENGTH.pack(8, row.creation_time, len(doc)))
        add(doc)
        for name in indexes:
            key = row.keys[name]
            add(_LENGTH.pack(len(key)))
            add(key)
        for v in table.vector_indexes:
            entry = row.vectors.get(v.name)
            if entry is None:
                add(_NULL * (1 + len(v.filter_fields)))
                continue
            vector = entry.vector.astype(">f4").tobytes()
            add(_LENGTH.pack(4 + len(vector)) + struct.pack(">HH", len(entry.vector), 0))
            add(vector)
            for key in entry.filters:
                add(_LENGTH.pack(len(key)))
                add(key)
    add(_COPY_TRAILER)
    return b"".join(parts)


class PostgresTransaction(ProviderTransaction):
    """Queues writes and sends them in one pipeline before the next read or the commit, so
    a batch of inserts costs one round trip, not one each. Writes were validated above
    this layer; a failure while flushing still aborts the whole transaction."""

    def __init__(self, conn: psycopg.AsyncConnection) -> None:
        self._conn = conn
        self._queued: list[tuple[str, list[Any]]] = []

    async def flush(self) -> None:
        queued, self._queued = self._queued, []
        if len(queued) == 1:
            await self._conn.execute(*queued[0])
            return
        # Runs of one statement (a batch of inserts into one table) go as one executemany,
        # which psycopg pipelines: one round trip, far less per-row work than execute.
        i = 0
        async with self._conn.cursor() as cur:
            while i < len(queued):
                sql = queued[i][0]
                j = i
                while j < len(queued) and queued[j][0] == sql:
                    j += 1
                await cur.executemany(sql, [params for _, params in queued[i:j]])
                i = j

    async def _fetch(
        self, sql: str, params: tuple[Any, ...] | list[Any] = ()
    ) -> list[tuple[Any, ...]]:
        await self.flush()
        cur = await self._conn.execute(sql, params)
        return await cur.fetchall()

    @_mapped
    async def get(self, table: Table, id: str) -> Row | None:
        rows = await self._fetch(f"SELECT ct, doc FROM {_table_sql(table)} WHERE id = %s", (id,))
        return Row(id, rows[0][0], values.from_stored(rows[0][1])) if rows else None

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
        col = _q(f"k_{index}")
        sql = f"SELECT {col}, id, ct, doc FROM {_table_sql(table)} WHERE {col} >= %s"
        params: list[Any] = [low]
        if high is not None:
            sql += f" AND {col} < %s"
            params.append(high)
        sql += f" ORDER BY {col} {'DESC' if reverse else 'ASC'}"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        rows = await self._fetch(sql, params)
        return [(bytes(key), Row(id, ct, values.from_stored(doc))) for key, id, ct, doc in rows]

    @_mapped
    async def count(self, table: Table) -> int:
        rows = await self._fetch(f"SELECT count(*) FROM {_table_sql(table)}")
        return int(rows[0][0])

    @_mapped
    async def existing_ids(self, table: Table, ids: Sequence[str]) -> set[str]:
        where, params = _any_id(ids)
        rows = await self._fetch(f"SELECT id FROM {_table_sql(table)} WHERE {where}", params)
        return {row[0] for row in rows}

    @staticmethod
    def _columns(
        table: Table,
        row: Row,
        encoded: str,
        keys: dict[str, bytes],
        vectors: dict[str, Any],
    ) -> dict[str, Any]:
        cols: dict[str, Any] = {"doc": encoded}
        for ix in table.all_indexes:
            cols[f"k_{ix.name}"] = keys[ix.name]
        for v in table.vector_indexes:
            entry = vectors.get(v.name)
            cols[f"v_{v.name}"] = None if entry is None else entry.vector
            filters = [None] * len(v.filter_fields) if entry is None else entry.filters
            cols.update(zip(_filter_columns(v.name, len(v.filter_fields)), filters, strict=True))
        return cols

    @_mapped
    async def insert(
        self,
        table: Table,
        row: Row,
        encoded: str,
        keys: dict[str, bytes],
        vectors: dict[str, VectorEntry],
    ) -> None:
        cols = {
            "id": row.id,
            "ct": row.creation_time,
            **self._columns(table, row, encoded, keys, vectors),
        }
        names = ", ".join(_q(c) for c in cols)
        marks = ", ".join("%s::json" if c == "doc" else "%s" for c in cols)
        self._queued.append(
            (f"INSERT INTO {_table_sql(table)} ({names}) VALUES ({marks})", list(cols.values()))
        )

    @_mapped
    async def insert_many(self, table: Table, rows: Sequence[PreparedRow]) -> None:
        """One binary COPY for the batch: no SQL to parse per row, and each value goes in
        its binary form (a vector as 4-byte floats rather than decimal text)."""
        await self.flush()
        names = ", ".join(_q(c) for c in _copy_columns(table))
        sql = f"COPY {_table_sql(table)} ({names}) FROM STDIN (FORMAT BINARY)"
        async with self._conn.cursor() as cur, cur.copy(sql) as copy:
            await copy.write(_copy_data(table, rows))

    @_mapped
    async def update(
        self,
        table: Table,
        row: Row,
        encoded: str,
        keys: dict[str, bytes],
        vectors: dict[str, VectorEntry | None],
    ) -> None:
        cols = self._columns(table, row, encoded, keys, vectors)
        sets = ", ".join(f"{_q(c)} = %s{'::json' if c == 'doc' else ''}" for c in cols)
        self._queued.append(
            (f"UPDATE {_table_sql(table)} SET {sets} WHERE id = %s", [*cols.values(), row.id])
        )

    @_mapped
    async def delete(self, table: Table, id: str) -> None:
        self._queued.append((f"DELETE FROM {_table_sql(table)} WHERE id = %s", [id]))

    async def delete_many(self, table: Table, ids: Sequence[str]) -> None:
        where, params = _any_id(ids)
        self._queued.append((f"DELETE FROM {_table_sql(table)} WHERE {where}", params))

    @_mapped
    async def vector_search(
        self,
        table: Table,
        index: VectorIndex,
        query: np.ndarray,
        limit: int,
        filters: VectorFilter,
    ) -> list[tuple[str, float]]:
        col, table_sql = _q(f"v_{index.name}"), _table_sql(table)
        where = [f"{col} IS NOT NULL"]
        params: list[Any] = []
        for field, options in filters:
            where.append(f"{_q(f'f_{index.name}_{field}')} = ANY(%s)")
            params.append(list(options))
        condition = " AND ".join(where)
        rows: list[tuple[Any, ...]] | None = None
        if filters:
            # A selective filter is answered exactly from its B-tree: cheaper than walking
            # the HNSW graph past every non-matching neighbour, and it never misses. One
            # pass reads at most EXACT_SEARCH_ROWS + 1 matching rows, each distance computed
            # once, and counts them; the OFFSET 0 fence keeps the ORDER BY off the HNSW
            # index. (Reading the matching rows is the cost: one heap page each, so a
            # shared_buffers that holds the vectors is what makes it fast.)
            found = await self._fetch(
                f"SELECT id, 1 - d, count(*) OVER () FROM (SELECT id, {col} <=> %s AS d "
                f"FROM {table_sql} WHERE {condition} LIMIT {EXACT_SEARCH_ROWS + 1} OFFSET 0) s "
                "ORDER BY d LIMIT %s",
                [query, *params, limit],
            )
            if not found or found[0][2] <= EXACT_SEARCH_ROWS:
                rows = [(id, score) for id, score, _ in found]
        if rows is None:
            rows = await self._fetch(
                f"SELECT id, 1 - ({col} <=> %s) FROM {table_sql} "
                f"WHERE {condition} ORDER BY {col} <=> %s LIMIT %s",
                [query, *params, query, limit],
            )
        # Iterative scans may return neighbours slightly out of order; NaN comes from a
        # zero vector, whose similarity to anything we define as 0.
        scored = [(id, 0.0 if score != score else max(-1.0, min(1.0, score))) for id, score in rows]
        return sorted(scored, key=lambda item: (-item[1], item[0]))


class PostgresProvider(Provider):
    name = "postgres"

    def __init__(self, url: str, pool: AsyncConnectionPool) -> None:
        self.display_url = mask_password(url)
        self._pool = pool
        self._lost: str | None = None  # why the server was found away, until it answers

    @classmethod
    async def open(cls, url: str) -> PostgresProvider:
        shown = mask_password(url)
        conninfo = postgres_conninfo(url)
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, connect_timeout=10
            ) as conn:
                try:
                    # Under the schema lock: processes opening a new database together
                    # would otherwise race to create it, and all but one fail.
                    async with conn.transaction():
                        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    cur = await conn.execute(
                        "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                    )
                    version = (await _one_row(cur))[0]
                except psycopg.Error as exc:
                    raise StoreConnectionError(
                        f"{shown}: the pgvector extension is not available ({exc}). Install it: "
                        "scripts/install-pgvector.sh (Debian, as root) or your distribution's "
                        "postgresql-<version>-pgvector package"
                    ) from exc
        except (psycopg.Error, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreConnectionError(f"{shown}: cannot connect: {reason}") from exc

        iterative = tuple(int(p) for p in version.split(".")[:2]) >= (0, 8)
        if not iterative:
            log.warning(
                "%s: pgvector %s has no iterative index scans; a selective filter may return "
                "fewer than `limit` vectors. Upgrade pgvector to 0.8 or newer.",
                shown,
                version,
            )

        async def configure(conn: psycopg.AsyncConnection) -> None:
            await register_vector_async(conn)
            await conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
            if iterative:
                await conn.execute("SET hnsw.iterative_scan = relaxed_order")
            await conn.commit()

        pool_log = logging.getLogger("psycopg.pool")
        if _POOL_WARNINGS not in pool_log.filters:
            pool_log.addFilter(_POOL_WARNINGS)
        kwargs: dict[str, Any] = {"row_factory": tuple_row}
        if "connect_timeout" not in conninfo_to_dict(conninfo):
            kwargs["connect_timeout"] = CONNECT_SECONDS
        pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=POOL_MAX,
            open=False,
            configure=configure,
            kwargs=kwargs,
            timeout=POOL_WAIT_SECONDS,
            reconnect_timeout=RECONNECT_SECONDS,
        )
        try:
            await pool.open(wait=True, timeout=15)
        except PoolTimeout as exc:
            await pool.close()
            raise StoreConnectionError(f"{shown}: no connection within 15 s") from exc
        return cls(url, pool)

    @asynccontextmanager
    async def transaction(self, read_only: bool) -> AsyncIterator[PostgresTransaction]:
        level = IsolationLevel.REPEATABLE_READ if read_only else IsolationLevel.SERIALIZABLE

        async def begin(conn: psycopg.AsyncConnection, stack: AsyncExitStack) -> None:
            # Both travel in the BEGIN statement itself: no extra round trip.
            await conn.set_isolation_level(level)
            await conn.set_read_only(read_only)
            await stack.enter_async_context(conn.transaction())

        async with self._connection(begin) as conn:
            tx = PostgresTransaction(conn)
            yield tx
            await tx.flush()

    @asynccontextmanager
    async def _connection(
        self,
        start: Callable[[psycopg.AsyncConnection, AsyncExitStack], Any] | None = None,
        wait: float = POOL_WAIT_SECONDS,
    ) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection, once ``start`` (BEGIN, say; its contexts go on ``stack``)
        has run on it. A connection the server closed while it sat in the pool fails
        ``start`` and the next one is taken: nothing ran on it, and a call right after a
        restart succeeds. Waits at most ``wait`` s for a connection, ``FAIL_FAST_SECONDS``
        while the server is known to be away; psycopg errors leave as StoreErrors."""
        for attempt in range(POOL_MAX + 1):
            timeout = min(wait, FAIL_FAST_SECONDS) if self._lost else wait
            conn: psycopg.AsyncConnection | None = None
            try:
                async with AsyncExitStack() as stack:
                    conn = await stack.enter_async_context(self._pool.connection(timeout))
                    if start is not None:
                        try:
                            await start(conn, stack)
                        except psycopg.OperationalError as exc:
                            if not _dead(conn) or attempt == POOL_MAX:
                                raise
                            self._lose(exc)
                            continue  # (leaving the block hands the dead one back to go)
                        if self._lost is not None:
                            log.info("%s: the server answers again", self.display_url)
                            self._lost = None
                    yield conn
            except PoolTimeout as exc:
                raise StoreConnectionError(self._unavailable(timeout)) from exc
            except BaseException as exc:  # (the transaction's methods translate their own)
                if conn is not None and _dead(conn):
                    self._lose(exc.__cause__ or exc if isinstance(exc, StoreError) else exc)
                if isinstance(exc, psycopg.Error):
                    raise _translate(exc) from exc
                raise
            return

    def _lose(self, exc: BaseException) -> None:
        """The server closed a connection: until one answers again, calls fail fast."""
        if self._lost is None:
            log.warning("%s: the connection was lost: %s", self.display_url, _first_line(exc))
        self._lost = _first_line(exc)

    def _unavailable(self, timeout: float) -> str:
        if self._lost is not None:
            return f"PostgreSQL is unavailable: {self._lost} (no connection within {timeout:g} s)"
        return f"PostgreSQL: no connection within {timeout:g} s (all {POOL_MAX} busy?)"

    @_mapped
    async def apply_schema(self, schema: Schema) -> dict[str, int]:
        async with self._connection() as conn:
            await conn.set_read_only(False)
            await conn.set_isolation_level(IsolationLevel.READ_COMMITTED)
            async with conn.transaction():
                return await self._apply(conn, schema)

    async def stored_definitions(self) -> dict[str, dict[str, Any]]:
        async with self._connection() as conn:
            cur = await conn.execute("SELECT to_regclass(%s)", (META,))
            if (await _one_row(cur))[0] is None:
                return {}
            cur = await conn.execute(f"SELECT name, definition FROM {META}")
            return {name: definition for name, definition in await cur.fetchall()}

    async def _apply(self, conn: psycopg.AsyncConnection, schema: Schema) -> dict[str, int]:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {META} (name text PRIMARY KEY, "
            "number integer UNIQUE NOT NULL, definition jsonb NOT NULL)"
        )
        cur = await conn.execute(f"SELECT name, number, definition FROM {META}")
        stored = {name: (number, definition) for name, number, definition in await cur.fetchall()}
        numbers: dict[str, int] = {}
        for table, number, definition in plan_tables(schema, stored):
            if definition is None:
                await self._create(conn, table, number)
            else:
                await _json_documents(conn, table)
                await self._migrate(conn, table, definition)
            numbers[table.name] = number
        return numbers

    async def _create(self, conn: psycopg.AsyncConnection, table: Table, number: int) -> None:
        await conn.execute(
            f"CREATE TABLE {_table_sql(table)} "
            '(id text COLLATE "C" PRIMARY KEY, ct double precision NOT NULL, doc json NOT NULL)'
        )
        await _compress_with_lz4(conn, table, "doc")
        await conn.execute(
            f"INSERT INTO {META} (name, number, definition) VALUES (%s, %s, %s)",
            (table.name, number, json.dumps(table.describe())),
        )
        await self._add_indexes(conn, table, {BY_CREATION_TIME, *table.index_names})

    async def _migrate(
        self, conn: psycopg.AsyncConnection, table: Table, stored: dict[str, Any]
    ) -> None:
        drop, build = index_changes(stored, table)
        if not drop and not build:
            return
        doomed = [f"k_{d['name']}" for d in stored.get("indexes", []) if d["name"] in drop]
        for d in stored.get("vectorIndexes", []):
            if d["name"] in drop:
                doomed += [f"v_{d['name']}", *_filter_columns(d["name"], len(d["filterFields"]))]
        for col in doomed:  # dropping a column drops the indexes on it
            await conn.execute(f"ALTER TABLE {_table_sql(table)} DROP COLUMN IF EXISTS {_q(col)}")
        await self._add_indexes(conn, table, build)
        await self._backfill(conn, table)
        await conn.execute(
            f"UPDATE {META} SET definition = %s WHERE name = %s",
            (json.dumps(table.describe()), table.name),
        )

    async def _add_indexes(
        self, conn: psycopg.AsyncConnection, table: Table, names: set[str]
    ) -> None:
        t = _table_sql(table)
        for ix in table.all_indexes:
            if ix.name in names:
                col = _q(f"k_{ix.name}")
                await conn.execute(f"ALTER TABLE {t} ADD COLUMN {col} bytea")
                await conn.execute(_btree_sql(table, ix.name))
        for v in table.vector_indexes:
            if v.name not in names:
                continue
            col = _q(f"v_{v.name}")
            await conn.execute(f"ALTER TABLE {t} ADD COLUMN {col} vector({v.dimensions})")
            # Inline in the row rather than in TOAST: an exact scan over a filter's rows
            # then reads each vector with its row (about 40% faster at 1024 dimensions).
            await conn.execute(f"ALTER TABLE {t} ALTER COLUMN {col} SET STORAGE MAIN")
            await _compress_with_lz4(conn, table, f"v_{v.name}")
            if v.dimensions <= HNSW_MAX_DIMENSIONS:
                await conn.execute(_hnsw_sql(table, v))
            for i, fcol in enumerate(_filter_columns(v.name, len(v.filter_fields))):
                await conn.execute(f"ALTER TABLE {t} ADD COLUMN {_q(fcol)} bytea")
                await conn.execute(_filter_sql(table, v, i))

    async def _backfill(self, conn: psycopg.AsyncConnection, table: Table) -> None:
        cur = await conn.execute(f"SELECT id, ct, doc FROM {_table_sql(table)}")
        tx = PostgresTransaction(conn)
        for id, ct, doc in await cur.fetchall():
            await rewrite_row(tx, table, Row(id, ct, values.from_stored(doc)))
        await tx.flush()

    @_mapped
    async def begin_bulk_load(self, table: Table) -> None:
        """Into an empty table, drop its indexes but the id's: inserting into the HNSW
        graph row by row costs several times building it once at the end
        (``end_bulk_load``), and a B-tree built by one sort costs about half its upkeep
        row by row. A table that already has rows keeps its indexes, unless an
        interrupted load dropped them; queries answer meanwhile (exact vector search,
        scans)."""
        async with self._connection() as conn:
            await conn.set_read_only(False)
            await conn.set_isolation_level(IsolationLevel.READ_COMMITTED)
            async with conn.transaction():
                cur = await conn.execute(f"SELECT EXISTS (SELECT 1 FROM {_table_sql(table)})")
                if (await _one_row(cur))[0]:
                    return
                for name, _ in _load_indexes(table):
                    await conn.execute(f"DROP INDEX IF EXISTS {_q(name)}")

    @_mapped
    async def end_bulk_load(self, table: Table) -> None:
        """Build the indexes a bulk load dropped (with memory enough for the HNSW graph,
        for this transaction only), then refresh the planner's statistics."""
        async with self._connection() as conn:
            await conn.set_read_only(False)
            await conn.set_isolation_level(IsolationLevel.READ_COMMITTED)
            async with conn.transaction():
                await conn.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
                for _, create in _load_indexes(table):
                    await conn.execute(create)
            await conn.execute(f"ANALYZE {_table_sql(table)}")

    @_mapped
    async def renumber(self, numbers: dict[str, int]) -> None:
        async with self._connection() as conn:
            await conn.set_read_only(False)
            await conn.set_isolation_level(IsolationLevel.READ_COMMITTED)
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for name in numbers:  # out of the way first: numbers are unique
                    await conn.execute(
                        f"UPDATE {META} SET number = -number - 1 WHERE name = %s", (name,)
                    )
                for name, number in numbers.items():
                    await conn.execute(
                        f"UPDATE {META} SET number = %s WHERE name = %s", (number, name)
                    )

    async def ping(self) -> None:
        async def select(conn: psycopg.AsyncConnection, stack: AsyncExitStack) -> None:
            await conn.execute("SELECT 1")

        async with self._connection(select, wait=PING_WAIT_SECONDS):
            pass

    async def close(self) -> None:
        await self._pool.close()
