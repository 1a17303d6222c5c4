"""The scheduler when the database goes away: no job stays ``inProgress`` without an action
running for it, and a scheduled mutation cut off by a lost connection runs again rather
than failing. On a private PostgreSQL cluster that is stopped and started, on the shared
server with its connections ended (``pg_terminate_backend``, what a restart does to
them), and on SQLite for what applies there (a claim that committed unheard)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from smalltown.runtime import Registry, Runtime, scheduler
from smalltown.runtime.scheduler import SchedulerWorker
from smalltown.store import Store, StoreError, open_store

from conftest import PG_ADMIN_URL
from example_app import jobs
from example_app.schema import schema
from helpers import PasswordPostgres, eventually

REGISTRY = Registry.from_package("example_app")
SCHEDULED = "_scheduled_functions"


class Town:
    """A runtime and its scheduler on one database."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def start(self) -> Town:
        self.store: Store = await open_store(self.url)
        self.runtime = await Runtime.create(self.store, schema, REGISTRY)
        self.worker = SchedulerWorker(self.runtime, None, poll_seconds=0.05)
        await self.worker.start()
        return self

    async def stop(self) -> None:
        await self.worker.close()
        await self.store.close()

    async def schedule(self, path: str, tag: str) -> str:
        args = {"path": path, "args": {"tag": tag}}
        return (await self.runtime.mutation("jobs:schedule_path", args)).value

    async def state(self, job_id: str) -> dict | None:
        """The job's state, or None while the database does not answer."""
        try:
            return (await self.runtime.query("jobs:job", {"id": job_id})).value["state"]
        except StoreError:
            return None

    async def kind(self, job_id: str) -> str | None:
        state = await self.state(job_id)
        return state and state["kind"]


@pytest.fixture(autouse=True)
def held_functions() -> Iterator[None]:
    yield
    jobs.HELD.clear()
    jobs.STARTED.clear()


@pytest.fixture
def cluster() -> Iterator[PasswordPostgres]:
    server = PasswordPostgres("outage").start()
    yield server
    server.remove()


def _never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    gc.collect()  # asyncio reports an exception nobody retrieved when its task is collected
    return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_an_action_that_ends_while_the_database_is_down_is_finished_once_it_is_back(
    cluster: PasswordPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    town = await Town(cluster.url()).start()
    try:
        job = await town.schedule("jobs:held_quiet", "q")
        await jobs.STARTED.setdefault("q", asyncio.Event()).wait()
        assert await town.kind(job) == "inProgress"
        await asyncio.to_thread(cluster.stop)
        jobs.release("q")

        def tried() -> bool:  # the result's first write failed (or, before, its task died)
            told = any("could not be written" in r.getMessage() for r in caplog.records)
            return told or not town.worker._actions

        await eventually(tried, "the result's first write", timeout=30)
        assert await town.kind(job) is None  # the database is still down
        await asyncio.to_thread(cluster.start)
        await eventually(lambda: _kind_is(town, job, "success"), "the job's success", timeout=30)
    finally:
        await town.stop()
    assert _never_retrieved(caplog) == []


async def _kind_is(town: Town, job: str, kind: str) -> bool:
    return await town.kind(job) == kind


async def test_ended_connections_lose_neither_a_running_action_nor_a_scheduled_mutation(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    town = await Town(postgres_url).start()
    name = postgres_url.rsplit("/", 1)[1].split("?")[0]
    try:
        # several connections in the pool, each of which the server will end
        await asyncio.gather(*(town.store.read(lambda tx: tx.query("log")) for _ in range(6)))
        action = await town.schedule("jobs:held", "a")
        mutation = await town.schedule("jobs:held_record", "m")
        await jobs.STARTED.setdefault("m", asyncio.Event()).wait()  # its transaction is open
        await eventually(lambda: _kind_is(town, action, "inProgress"))
        async with await psycopg.AsyncConnection.connect(PG_ADMIN_URL, autocommit=True) as admin:
            cur = await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            assert (await cur.fetchone())[0] >= 2
        jobs.release("a")
        jobs.release("m")
        await eventually(lambda: _kind_is(town, action, "success"), "the action's success")
        await eventually(lambda: _kind_is(town, mutation, "success"), "the mutation's success")
        tags = (await town.runtime.query("jobs:tags", {})).value
        assert sorted(tags) == ["a", "m"]  # each once: the cut-off mutation ran again, whole
    finally:
        await town.stop()
    assert _never_retrieved(caplog) == []


@pytest.fixture
async def sqlite_town(tmp_path) -> AsyncIterator[Town]:
    town = await Town(f"sqlite:///{tmp_path}/claims.db").start()
    yield town
    await town.stop()


async def test_a_claim_that_committed_unheard_is_failed_by_its_own_worker(
    sqlite_town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "ORPHANS_EVERY_MS", 100)
    town = sqlite_town
    # The claim committed, but the reply was lost with the connection: the job names this
    # worker, which is alive and beating, yet runs no action for it.
    job = await town.store.run(
        lambda tx: tx.insert(
            SCHEDULED,
            {
                "name": "jobs:act",
                "args": [{"tag": "t"}],
                "scheduledTime": 0.0,
                "state": {"kind": "inProgress"},
                "smalltownWorker": town.worker.id,
            },
        )
    )
    await eventually(lambda: _kind_is(town, job, "failed"), "the lost claim's failure")
    assert "interrupted" in (await town.state(job))["error"]
    assert (await town.runtime.query("jobs:tags", {})).value == []  # not run: failed
