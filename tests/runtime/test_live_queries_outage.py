"""Live queries when the database goes away under a refresh round: the queries it was
re-running are re-run once the database is back, so their subscribers get the value the
last commit made, with no further commit needed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from smalltown.runtime import ANONYMOUS, Registry, Runtime, wire
from smalltown.runtime.subscriptions import (
    LocalInvalidator,
    Result,
    Subscription,
    SubscriptionManager,
)
from smalltown.server.errors import to_result
from smalltown.store import open_store

from example_app import jobs
from example_app.schema import schema
from helpers import PasswordPostgres, eventually


class Inbox:
    def __init__(self) -> None:
        self.latest: Result | None = None

    def deliver(self, ts: int, changes: list[tuple[Subscription, Result]]) -> None:
        for _, result in changes:
            self.latest = result


@pytest.fixture
def cluster() -> Iterator[PasswordPostgres]:
    server = PasswordPostgres("outage").start()
    yield server
    server.remove()
    jobs.HELD.clear()
    jobs.STARTED.clear()


async def test_a_round_cut_off_by_an_outage_is_run_again_once_the_database_is_back(
    cluster: PasswordPostgres,
) -> None:
    store = await open_store(cluster.url())
    runtime = await Runtime.create(store, schema, Registry.from_package("example_app"))
    manager = SubscriptionManager(runtime, LocalInvalidator(), to_result)
    await manager.start()
    try:
        jobs.release("live")
        inbox = Inbox()
        _, [(_, first)] = await manager.subscribe(
            inbox, [(1, "jobs:held_tags", {"tag": "live"}, ANONYMOUS)]
        )
        assert wire.decode(first.value) == []
        jobs.HELD["live"], jobs.STARTED["live"] = asyncio.Event(), asyncio.Event()
        await runtime.mutation("jobs:record", {"tag": "x"}, internal=True)
        await jobs.STARTED["live"].wait()  # the round re-runs it, inside its snapshot
        await asyncio.to_thread(cluster.stop)
        jobs.release("live")  # its reads, and the round's end, meet the dead connection

        await asyncio.to_thread(cluster.start)

        def caught_up() -> bool:
            return inbox.latest is not None and inbox.latest.ok

        await eventually(caught_up, "the value the last commit made", timeout=30)
        assert wire.decode(inbox.latest.value) == ["x"]
    finally:
        await manager.close()
        await store.close()
