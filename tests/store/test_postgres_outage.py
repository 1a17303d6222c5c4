"""PostgreSQL going away and coming back: the pool's dead connections are replaced, not
handed to calls; while the server is down a call fails within about a second instead of
hanging; once it is back the next call succeeds, with no restart of ours."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest

from smalltown.store import Schema, Store, StoreConnectionError, Table, open_store
from smalltown.store import postgres as pg

from conftest import PG_ADMIN_URL
from helpers import PasswordPostgres, eventually

SCHEMA = Schema([Table("notes")])
#: what a call during an outage may take on a loaded machine: far from the 30 s it took
OUTAGE_CALL_BOUND = 5.0


async def _fill_pool(store: Store, connections: int = 6) -> None:
    """Several connections in the pool at once, each of which the server will end."""
    started = asyncio.Event()
    waiting = 0

    async def hold(tx) -> None:
        nonlocal waiting
        await tx.query("notes")
        waiting += 1
        if waiting == connections:
            started.set()
        await started.wait()

    await asyncio.gather(*(store.read(hold) for _ in range(connections)))


async def test_calls_after_the_server_ended_every_connection_succeed(postgres_url: str) -> None:
    store = await open_store(postgres_url, SCHEMA)
    name = postgres_url.rsplit("/", 1)[1].split("?")[0]
    try:
        await _fill_pool(store)
        async with await psycopg.AsyncConnection.connect(PG_ADMIN_URL, autocommit=True) as admin:
            cur = await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            assert (await cur.fetchone())[0] >= 6
        # Each call would otherwise take a dead connection: "terminating connection due to
        # administrator command".
        for n in range(8):
            await store.run(lambda tx, n=n: tx.insert("notes", {"n": n}))
            assert len(await store.read(lambda tx: tx.query("notes"))) == n + 1
        await store.ping()
    finally:
        await store.close()


@pytest.fixture
def cluster() -> Iterator[PasswordPostgres]:
    server = PasswordPostgres("outage").start()
    yield server
    server.remove()


async def _timed_failure(call) -> tuple[float, StoreConnectionError]:
    started = time.monotonic()
    with pytest.raises(StoreConnectionError) as caught:
        await call()
    return time.monotonic() - started, caught.value


async def test_while_the_server_is_down_calls_fail_fast_and_then_recover(
    cluster: PasswordPostgres,
) -> None:
    assert pg.FAIL_FAST_SECONDS <= 1
    store = await open_store(cluster.url(), SCHEMA)
    try:
        await _fill_pool(store)
        await asyncio.to_thread(cluster.stop)
        for _ in range(8):  # more calls than dead connections: the last ones meet the outage
            took, error = await _timed_failure(lambda: store.read(lambda tx: tx.query("notes")))
            assert took < OUTAGE_CALL_BOUND, f"a read took {took:.1f} s during the outage"
        assert "unavailable" in str(error) and "within 1 s" in str(error)
        took, _ = await _timed_failure(lambda: store.run(lambda tx: tx.insert("notes", {})))
        assert took < OUTAGE_CALL_BOUND, f"a write took {took:.1f} s during the outage"
        took, _ = await _timed_failure(store.ping)
        assert took < OUTAGE_CALL_BOUND, f"a ping took {took:.1f} s during the outage"

        await asyncio.to_thread(cluster.start)

        async def answers() -> bool:
            try:
                await store.run(lambda tx: tx.insert("notes", {"back": True}))
            except StoreConnectionError:
                return False
            return True

        await eventually(answers, "a write once the server is back", timeout=30)
        await store.ping()
        assert len(await store.read(lambda tx: tx.query("notes"))) == 1
    finally:
        await store.close()
