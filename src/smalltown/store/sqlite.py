"""The embedded default: one SQLite file in WAL mode.

Layout: a table ``st_<name>`` per table with columns ``id``, ``ct`` (creation time), ``doc``
(stored JSON), one BLOB key column ``k_<index>`` per index with a unique SQL index on it, and
per vector index a float32 BLOB ``v_<index>`` and filter-key BLOBs ``f_<index>_<n>``.
``_smalltown_tables`` records each table's number and definition.

Concurrency: write transactions take one in-process lock and ``BEGIN IMMEDIATE``, so writers
run one at a time and are trivially serializable; reads run on a small pool of connections,
each on its own WAL snapshot. Each connection owns one thread, and a whole statement with its
fetch runs in a single hop to it. Vectors are searched exactly with numpy from memory,
loaded by the first search and updated at each commit (a bulk insert drops them, to be
loaded again when searched); one SQLite file is meant for one process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

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
from smalltown.store.exact_vectors import ExactVectorIndex, VectorChanges, VectorMemory
from smalltown.store.rows import rewrite_row
from smalltown.store.schema import (
    BY_CREATION_TIME,
    Schema,
    Table,
    VectorIndex,
    index_changes,
    plan_tables,
)
from smalltown.store.urls import sqlite_path

T = TypeVar("T")
READERS = 4
MAX_PARAMS = 900  # below every SQLite build's limit on parameters per statement
META = "_smalltown_tables"
CLOCK = "_smalltown_clock"  # one row; every write transaction adds one (see VectorMemory)


def _q(name: str) -> str:
    return f'"{name}"'  # names are validated by schema.py: letters, digits, underscores


def _table_sql(t: Table | str) -> str:
    return _q(f"st_{t if isinstance(t, str) else t.name}")


def _btree_sql(table: Table, ix_name: str) -> str:
    name = _q(f"ix_{table.name}_{ix_name}")
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {_table_sql(table)} ({_q(f'k_{ix_name}')})"


def _btree_indexes(table: Table) -> list[tuple[str, str]]:
    """Each index's B-tree over its key column: its name, and the statement making it."""
    return [(f"ix_{table.name}_{ix.name}", _btree_sql(table, ix.name)) for ix in table.all_indexes]


def _vector_columns(name: str, filter_count: int) -> list[str]:
    return [f"v_{name}", *(f"f_{name}_{i}" for i in range(filter_count))]


def _use_wal(db: sqlite3.Connection, seconds: float = 5.0) -> None:
    """Put the file in WAL mode. Switching takes the file's exclusive lock and SQLite answers
    "locked" at once, without its busy handler, while another process is doing the same to a
    new file; so it is tried again for a while, and skipped once the file is in WAL mode."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # on this connection's own thread


class _Connection:
    """A sqlite3 connection used from exactly one thread of its own."""

    def __init__(self, path: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smalltown-sqlite")
        self._path = path
        self.db: sqlite3.Connection | None = None

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 5000")
            _use_wal(db)
            # NORMAL in WAL mode: a commit does not wait for fsync (checkpoints do), so a
            # power cut may lose the last commits but never corrupts the file. That suits
            # an import too: its progress commits with each batch, so a rerun resumes right
            # after whatever survived. OFF would save little more and risk the file itself.
            db.execute("PRAGMA synchronous = NORMAL")
            return db

        self.db = await self.call(connect)

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (using it before ``open`` or after ``close`` is a bug here)."""
        if self.db is None:
            raise StoreError("the SQLite connection is not open")
        return self.db

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise RetryableConflict(f"SQLite is busy: {exc}") from exc
            raise StoreError(f"SQLite error: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite error: {exc}") from exc

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        db = self.connection
        return await self.call(lambda: db.execute(sql, params).fetchall())

    async def close(self) -> None:
        if self.db is not None:
            await self.call(self.db.close)
            self.db = None
        self._executor.shutdown(wait=True)


def _not_writable(path: Path) -> str | None:
    """Why this process cannot write the database at ``path``, if that is why: SQLite says
    only "unable to open database file", and WAL mode writes beside the file too."""
    folder = path.parent.resolve()
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable by this user (uid {os.getuid()})"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"the file {path.resolve()} is not writable by this user (uid {os.getuid()})"
    return None


class SqliteTransaction(ProviderTransaction):
    """Saves thread hops, which cost more than SQLite's own work for small statements.

    BEGIN runs in the same hop as the first statement, and writes are queued and run in
    the hop of the next read or of COMMIT: a batch of inserts is one hop, not one each.
    Writes were validated above this layer, so a queued write has nothing left to refuse.
    """

    def __init__(self, provider: SqliteProvider, conn: _Connection, begin: str | None) -> None:
        self._p = provider
        self._conn = conn
        self._begin = begin
        self.begun = False
        self._queued: list[tuple[str, Any, bool]] = []  # (sql, params, executemany)
        self.wrote = False
        self.vector_changes: VectorChanges = {}
        self.vectors_stale = False  # bulk-inserted vectors: memory reloads on demand

    async def _execute(
        self, sql: str | None, params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        db = self._conn.connection
        queued, self._queued = self._queued, []

        def work() -> list[tuple[Any, ...]]:
            if not self.begun and self._begin is not None:
                db.execute(self._begin)
                self.begun = True
            for statement, args, many in queued:
                if many:
                    db.executemany(statement, args)
                else:
                    db.execute(statement, args)
            return [] if sql is None else db.execute(sql, params).fetchall()

        return await self._conn.call(work)

    def _queue(self, sql: str, params: Any, many: bool = False) -> None:
        self._queued.append((sql, params, many))
        self.wrote = True

    async def commit(self) -> int | None:
        """Commit in one hop: queued writes, the clock, COMMIT. Returns the new clock value
        if the transaction wrote anything."""
        seq = None
        if self.wrote:
            rows = await self._execute(
                f"UPDATE {CLOCK} SET seq = seq + 1 WHERE id = 1 RETURNING seq"
            )
            seq = rows[0][0]
        if self.begun:
            self.begun = False
            await self._conn.execute("COMMIT")
        return seq

    async def get(self, table: Table, id: str) -> Row | None:
        rows = await self._execute(f"SELECT ct, doc FROM {_table_sql(table)} WHERE id = ?", (id,))
        return Row(id, rows[0][0], values.loads(rows[0][1])) if rows else None

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
        sql = f"SELECT {col}, id, ct, doc FROM {_table_sql(table)} WHERE {col} >= ?"
        params: list[Any] = [low]
        if high is not None:
            sql += f" AND {col} < ?"
            params.append(high)
        sql += f" ORDER BY {col} {'DESC' if reverse else 'ASC'}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self._execute(sql, tuple(params))
        return [(key, Row(id, ct, values.loads(doc))) for key, id, ct, doc in rows]

    async def count(self, table: Table) -> int:
        rows = await self._execute(f"SELECT COUNT(*) FROM {_table_sql(table)}")
        return int(rows[0][0])

    async def existing_ids(self, table: Table, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), MAX_PARAMS):
            chunk = ids[start : start + MAX_PARAMS]
            marks = ", ".join(["?"] * len(chunk))
            sql = f"SELECT id FROM {_table_sql(table)} WHERE id IN ({marks})"
            found.update(row[0] for row in await self._execute(sql, tuple(chunk)))
        return found

    def _columns(
        self,
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
            names = _vector_columns(v.name, len(v.filter_fields))
            if entry is None:
                cols.update(dict.fromkeys(names))
            else:
                cols.update(zip(names, [entry.vector.tobytes(), *entry.filters], strict=True))
            self.vector_changes.setdefault((table.name, v.name), {})[row.id] = entry
        return cols

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
        marks = ", ".join("?" for _ in cols)
        self._queue(
            f"INSERT INTO {_table_sql(table)} ({names}) VALUES ({marks})", tuple(cols.values())
        )

    async def insert_many(self, table: Table, rows: Sequence[PreparedRow]) -> None:
        """One prepared statement for the whole batch, run in the commit's hop."""
        names = ["id", "ct", "doc", *(f"k_{ix.name}" for ix in table.all_indexes)]
        for v in table.vector_indexes:
            names += _vector_columns(v.name, len(v.filter_fields))
        indexes = [ix.name for ix in table.all_indexes]
        params: list[tuple[Any, ...]] = []
        for row in rows:
            keys = row.keys
            values_ = (row.id, row.creation_time, row.encoded, *[keys[name] for name in indexes])
            for v in table.vector_indexes:
                entry = row.vectors.get(v.name)
                if entry is None:
                    values_ += (None,) * (1 + len(v.filter_fields))
                else:
                    values_ += (entry.vector.tobytes(), *entry.filters)
            params.append(values_)
        sql = (
            f"INSERT INTO {_table_sql(table)} ({', '.join(_q(c) for c in names)}) "
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        self._queue(sql, params, many=True)
        # Rather than hold every imported vector in memory, forget them all: the next
        # search reloads (a load can bring far more vectors than anyone will search).
        if table.vector_indexes:
            self.vectors_stale = True

    async def update(
        self,
        table: Table,
        row: Row,
        encoded: str,
        keys: dict[str, bytes],
        vectors: dict[str, VectorEntry | None],
    ) -> None:
        cols = self._columns(table, row, encoded, keys, vectors)
        sets = ", ".join(f"{_q(c)} = ?" for c in cols)
        self._queue(f"UPDATE {_table_sql(table)} SET {sets} WHERE id = ?", (*cols.values(), row.id))

    async def delete(self, table: Table, id: str) -> None:
        await self.delete_many(table, [id])

    async def delete_many(self, table: Table, ids: Sequence[str]) -> None:
        sql = f"DELETE FROM {_table_sql(table)} WHERE id = ?"
        if len(ids) == 1:
            self._queue(sql, (ids[0],))
        else:
            self._queue(sql, [(id,) for id in ids], many=True)
        for v in table.vector_indexes:
            self.vector_changes.setdefault((table.name, v.name), {}).update(dict.fromkeys(ids))

    async def vector_search(
        self,
        table: Table,
        index: VectorIndex,
        query: np.ndarray,
        limit: int,
        filters: VectorFilter,
    ) -> list[tuple[str, float]]:
        seq = (await self._execute(f"SELECT seq FROM {CLOCK} WHERE id = 1"))[0][0]
        exact = (await self._p.vectors.at_least(seq))[(table.name, index.name)]
        overlay = self.vector_changes.get((table.name, index.name))
        return exact.search(query, limit, filters, overlay)


class SqliteProvider(Provider):
    name = "sqlite"

    def __init__(self, path: str, url: str) -> None:
        self.display_url = url
        self._path = path
        self._writer = _Connection(path)
        self._readers: asyncio.Queue[_Connection] = asyncio.Queue()
        self._all_readers: list[_Connection] = []
        self._write_lock = asyncio.Lock()
        self._tables: dict[str, Table] = {}
        self.vectors = VectorMemory(self._load_vectors)

    @classmethod
    async def open(cls, url: str) -> SqliteProvider:
        path = sqlite_path(url)
        if not path or path.startswith(":memory:"):
            raise StoreConnectionError(
                f"{url}: give a file path, e.g. sqlite:///./data/smalltown.db "
                "(relative) or sqlite:////var/lib/smalltown/town.db (absolute)"
            )
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreConnectionError(f"{url}: cannot create its folder: {exc}") from exc
        provider = cls(path, url)
        try:
            await provider._writer.open()
            await provider._writer.execute(
                f"CREATE TABLE IF NOT EXISTS {META} "
                "(name TEXT PRIMARY KEY, number INTEGER UNIQUE NOT NULL, definition TEXT NOT NULL)"
            )
            await provider._writer.execute(
                f"CREATE TABLE IF NOT EXISTS {CLOCK} (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)"
            )
            await provider._writer.execute(f"INSERT OR IGNORE INTO {CLOCK} VALUES (1, 0)")
            for _ in range(READERS):
                reader = _Connection(path)
                await reader.open()
                provider._all_readers.append(reader)
                provider._readers.put_nowait(reader)
        except StoreError as exc:
            await provider.close()
            reason = _not_writable(Path(path)) or str(exc)
            raise StoreConnectionError(f"{url}: cannot open the database: {reason}") from exc
        return provider

    @asynccontextmanager
    async def transaction(self, read_only: bool) -> AsyncIterator[SqliteTransaction]:
        if read_only:
            conn = await self._readers.get()
            tx = SqliteTransaction(self, conn, "BEGIN")
            try:
                yield tx
            finally:
                try:
                    await tx.commit()  # ends the snapshot; nothing was written
                finally:
                    self._readers.put_nowait(conn)
            return
        async with self._write_lock:
            tx = SqliteTransaction(self, self._writer, "BEGIN IMMEDIATE")
            try:
                yield tx
            except BaseException:
                await self._writer.call(self._rollback_if_open)
                raise
            try:
                seq = await tx.commit()
            except BaseException:
                await self._writer.call(self._rollback_if_open)
                raise
            if tx.vectors_stale:
                self.vectors.forget()
            elif seq is not None:
                self.vectors.committed(seq, tx.vector_changes)

    @asynccontextmanager
    async def _immediate(self) -> AsyncIterator[_Connection]:
        """The writer in a ``BEGIN IMMEDIATE`` transaction, committed when the block ends,
        rolled back if it raises. The caller holds the write lock."""
        conn = self._writer
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            await conn.execute("COMMIT")
        except BaseException:
            await conn.call(self._rollback_if_open)
            raise

    def _rollback_if_open(self) -> None:
        if self._writer.db is not None and self._writer.db.in_transaction:
            self._writer.db.execute("ROLLBACK")

    async def apply_schema(self, schema: Schema) -> dict[str, int]:
        async with self._write_lock:
            async with self._immediate() as conn:
                stored = {
                    name: (number, json.loads(definition))
                    for name, number, definition in await conn.execute(
                        f"SELECT name, number, definition FROM {META}"
                    )
                }
                numbers: dict[str, int] = {}
                for table, number, definition in plan_tables(schema, stored):
                    if definition is None:
                        await self._create(conn, table, number)
                    else:
                        await self._migrate(conn, table, definition)
                    numbers[table.name] = number
                await conn.execute(f"UPDATE {CLOCK} SET seq = seq + 1 WHERE id = 1")
            self._tables = {t.name: t for t in schema.tables}
        self.vectors.forget()  # loaded by the first vector search
        return numbers

    async def stored_definitions(self) -> dict[str, dict[str, Any]]:
        async with self._write_lock:
            rows = await self._writer.execute(f"SELECT name, definition FROM {META}")
        return {name: json.loads(definition) for name, definition in rows}

    async def _create(self, conn: _Connection, table: Table, number: int) -> None:
        await conn.execute(
            f"CREATE TABLE {_table_sql(table)} "
            "(id TEXT PRIMARY KEY, ct REAL NOT NULL, doc TEXT NOT NULL)"
        )
        await conn.execute(
            f"INSERT INTO {META} (name, number, definition) VALUES (?, ?, ?)",
            (table.name, number, json.dumps(table.describe())),
        )
        await self._add_indexes(conn, table, {BY_CREATION_TIME, *table.index_names})

    async def _migrate(self, conn: _Connection, table: Table, stored: dict[str, Any]) -> None:
        drop, build = index_changes(stored, table)
        if not drop and not build:
            return
        for desc in stored.get("indexes", []):
            if desc["name"] in drop:
                ix_name = _q(f"ix_{table.name}_{desc['name']}")
                await conn.execute(f"DROP INDEX IF EXISTS {ix_name}")
                await conn.execute(
                    f"ALTER TABLE {_table_sql(table)} DROP COLUMN {_q('k_' + desc['name'])}"
                )
        for desc in stored.get("vectorIndexes", []):
            if desc["name"] in drop:
                for col in _vector_columns(desc["name"], len(desc["filterFields"])):
                    await conn.execute(f"ALTER TABLE {_table_sql(table)} DROP COLUMN {_q(col)}")
        await self._add_indexes(conn, table, build)
        await self._backfill(conn, table, build)
        await conn.execute(
            f"UPDATE {META} SET definition = ? WHERE name = ?",
            (json.dumps(table.describe()), table.name),
        )

    async def _add_indexes(self, conn: _Connection, table: Table, names: set[str]) -> None:
        for ix in table.all_indexes:
            if ix.name in names:
                col = _q(f"k_{ix.name}")
                await conn.execute(f"ALTER TABLE {_table_sql(table)} ADD COLUMN {col} BLOB")
                await conn.execute(_btree_sql(table, ix.name))
        for v in table.vector_indexes:
            if v.name in names:
                for col in _vector_columns(v.name, len(v.filter_fields)):
                    await conn.execute(f"ALTER TABLE {_table_sql(table)} ADD COLUMN {_q(col)} BLOB")

    async def _backfill(self, conn: _Connection, table: Table, names: set[str]) -> None:
        rows = await conn.execute(f"SELECT id, ct, doc FROM {_table_sql(table)}")
        tx = SqliteTransaction(self, conn, None)  # inside the schema transaction
        for id, ct, doc in rows:
            await rewrite_row(tx, table, Row(id, ct, values.loads(doc)))
        await tx._execute(None)  # run the queued updates

    async def _load_vectors(self) -> tuple[int, dict[tuple[str, str], ExactVectorIndex]]:
        """The clock and every vector, read in one snapshot on a reader connection."""
        conn = await self._readers.get()
        tables = list(self._tables.values())

        def read() -> tuple[int, dict[tuple[str, str], ExactVectorIndex]]:
            db = conn.connection
            db.execute("BEGIN")
            try:
                seq = db.execute(f"SELECT seq FROM {CLOCK} WHERE id = 1").fetchone()[0]
                indexes = {}
                for table in tables:
                    for v in table.vector_indexes:
                        columns = _vector_columns(v.name, len(v.filter_fields))
                        rows = db.execute(
                            f"SELECT id, {', '.join(_q(c) for c in columns)} "
                            f"FROM {_table_sql(table)} WHERE {_q(columns[0])} IS NOT NULL"
                        )
                        exact = ExactVectorIndex(v.dimensions, len(v.filter_fields))
                        exact.load(
                            (r[0], np.frombuffer(r[1], dtype=np.float32), tuple(r[2:]))
                            for r in rows
                        )
                        indexes[(table.name, v.name)] = exact
                return seq, indexes
            finally:
                db.execute("COMMIT")

        try:
            return await conn.call(read)
        finally:
            self._readers.put_nowait(conn)

    async def renumber(self, numbers: dict[str, int]) -> None:
        async with self._write_lock, self._immediate() as conn:
            for name in numbers:  # out of the way first: numbers are unique
                await conn.execute(
                    f"UPDATE {META} SET number = -number - 1 WHERE name = ?", (name,)
                )
            for name, number in numbers.items():
                await conn.execute(f"UPDATE {META} SET number = ? WHERE name = ?", (number, name))

    async def begin_bulk_load(self, table: Table) -> None:
        """Into an empty table, drop the index B-trees (all but the id's): one sort at the
        end (``end_bulk_load``) costs less than inserting each row's keys in key order.
        Queries still answer meanwhile, by scanning the table."""
        async with self._write_lock, self._immediate() as conn:
            if await conn.execute(f"SELECT 1 FROM {_table_sql(table)} LIMIT 1"):
                return
            for name, _ in _btree_indexes(table):
                await conn.execute(f"DROP INDEX IF EXISTS {_q(name)}")

    async def end_bulk_load(self, table: Table) -> None:
        async with self._write_lock, self._immediate() as conn:
            for _, create in _btree_indexes(table):
                await conn.execute(create)

    async def ping(self) -> None:
        async with self.transaction(read_only=True) as tx:
            await tx._execute("SELECT 1")

    async def close(self) -> None:
        for conn in [self._writer, *self._all_readers]:
            await conn.close()
