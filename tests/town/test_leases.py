"""Several runners (one a process) share the worlds: each world is stepped by the runner
that holds its lease, and another takes it over when that runner stops."""

import logging
import os
import socket

from smalltown.runtime import Registry, Runtime
from smalltown.store import open_store
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.schema import schema
from smalltown.worlds.admin import list_worlds
from smalltown.worlds.creation import create_world
from smalltown.worlds.runner import WorldRunner

LEASE_MS = 10_000


async def test_one_runner_steps_a_world_and_another_takes_over_when_it_stops(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="smalltown.worlds.runner")
    store = await open_store(f"sqlite:///{tmp_path}/leases.db")
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        world_id = await create_world(store, town_map(), CHARACTERS)
        status = await store.read(lambda tx: tx.first("worldStatus"))
        clock = [status["lastViewed"]]

        def runner():
            return WorldRunner(
                runtime,
                clock=lambda: clock[0],
                on_operations=lambda w, o: None,
                lease_ms=LEASE_MS,
            )

        first, second, third = runner(), runner(), runner()

        async def tick(*runners, seconds=1):
            clock[0] += seconds * 1000
            await store.run(lambda tx: tx.patch(status["_id"], {"lastViewed": clock[0]}))
            return [await r.run_due() for r in runners]

        assert await tick(first, second) == [1, 0]  # the first takes the lease
        for _ in range(11):  # longer than a lease: the holder renews it as it goes
            assert await tick(second, first) == [0, 1]  # (the second finds it due, first)
        assert (first.steps, second.steps) == (12, 0)
        # The second asked once, then again only once the lease it saw would have run out.
        assert second.lease_checks == 2

        # The first stops without a word (a killed process): its world waits out the lease.
        assert await tick(second) == [0]
        assert await tick(second, seconds=LEASE_MS / 1000) == [1]
        assert "taken over from a runner that stopped" in caplog.text
        assert await tick(first, second) == [0, 1]  # the first, back, finds it taken

        # A runner that closes hands its worlds on at once.
        await second.close()
        assert await tick(third) == [1]
        leases = await store.read(lambda tx: tx.query("smalltownLeases"))
        assert [(lease["worldId"], lease["owner"]) for lease in leases] == [(world_id, third.owner)]
        assert "stepped by another runner" not in caplog.text  # no step was wasted
        (listed,) = await list_worlds(store)  # `smalltown worlds list` says who steps it
        assert listed["runner"] == third.owner
        assert third.owner.split(":")[:2] == [socket.gethostname(), str(os.getpid())]
    finally:
        await store.close()


async def test_a_world_with_steps_longer_than_a_lease_stays_with_its_runner(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/long.db")
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        await create_world(store, town_map(), CHARACTERS)
        status = await store.read(lambda tx: tx.first("worldStatus"))
        clock = [status["lastViewed"]]

        def runner():
            return WorldRunner(
                runtime,
                step_ms=3 * LEASE_MS,  # a step every 30 s, a lease of 10 s
                clock=lambda: clock[0],
                on_operations=lambda w, o: None,
                lease_ms=LEASE_MS,
            )

        first, second = runner(), runner()
        for tick in range(100):  # 100 s: three leases' worth between two steps
            clock[0] += 1000
            await store.run(lambda tx: tx.patch(status["_id"], {"lastViewed": clock[0]}))
            for each in (second, first) if tick % 2 else (first, second):
                await each.run_due()
            # The holder renews its lease between steps: the world never changes hands.
            lease = await store.read(lambda tx: tx.first("smalltownLeases"))
            assert lease["owner"] == first.owner, f"taken over after {tick + 1} s"
        assert second.steps == 0 and first.steps >= 3
    finally:
        await store.close()
