"""The runner's schedule, as its step records tell it: each says how late the step began
against when it was due (``lateness``, wall ms) and how long it took (``wallMs``); and the
world it keeps in memory between steps is read afresh once another runner stepped it."""

from __future__ import annotations

import time

import pytest

from smalltown.runtime import Registry, Runtime
from smalltown.store import open_store
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.schema import schema
from smalltown.worlds.creation import create_world
from smalltown.worlds.inputs import insert_input
from smalltown.worlds.parts import read_world
from smalltown.worlds.replay import replay
from smalltown.worlds.runner import WorldRunner


async def _town(tmp_path, name: str):
    store = await open_store(f"sqlite:///{tmp_path}/{name}.db")
    runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
    world_id = await create_world(store, town_map(), CHARACTERS[:3])
    status = await store.read(lambda tx: tx.first("worldStatus"))
    return store, runtime, world_id, status


async def _steps(store, world_id: str) -> list[dict]:
    return await store.read(
        lambda tx: tx.query("smalltownSteps", "worldStep", eq={"worldId": world_id})
    )


async def test_every_step_records_how_late_it_began_and_its_wall_time(tmp_path):
    store, runtime, world_id, status = await _town(tmp_path, "lateness")
    try:
        clock = [status["lastViewed"]]
        runner = WorldRunner(runtime, clock=lambda: clock[0], on_operations=lambda w, o: None)
        # on time twice, then a quarter of a second late (and late so since: the steps
        # follow one another in game time), then far behind (the runner skips the time,
        # and the step is as late as it began)
        for advance in (1000, 1000, 1000, 1250, 1000, 9000):
            clock[0] += advance
            await runner.step_world(world_id)
        # The world stops and is started again: its first step then is due as it wakes.
        await store.run(lambda tx: tx.patch(status["_id"], {"status": "inactive"}))
        await runner.run_due()
        await store.run(lambda tx: tx.patch(status["_id"], {"status": "running"}))
        clock[0] += 60_000
        await runner.step_world(world_id)

        rows = await _steps(store, world_id)
        expected = [0, 0, 0, 250, 250, 8250, 0]  # (8 s behind the step due at 6 s)
        assert [r["lateness"] for r in rows] == pytest.approx(expected, abs=0.01)
        assert all(r["wallMs"] > 0 for r in rows)
    finally:
        await store.close()


async def test_the_lateness_is_in_wall_time_at_any_time_scale(tmp_path):
    store, runtime, world_id, _ = await _town(tmp_path, "scaled")
    try:
        runner = WorldRunner(runtime, time_scale=1000.0, on_operations=lambda w, o: None)
        started = time.perf_counter()
        for _ in range(3):
            await runner.step_world(world_id)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Game time runs a thousand times as fast: a step a millisecond of wall time. Run
        # back to back they fall behind by the wall time they take (in game time, a
        # thousand times that), and each says how late it is in wall time.
        lateness = [r["lateness"] for r in (await _steps(store, world_id))[1:]]
        assert all(0 <= late <= elapsed_ms for late in lateness), lateness
        assert max(lateness) > 0, lateness
    finally:
        await store.close()


async def test_a_world_kept_in_memory_is_read_again_once_another_runner_stepped_it(tmp_path):
    store, runtime, world_id, status = await _town(tmp_path, "kept")
    try:
        clock = [status["lastViewed"]]

        def runner() -> WorldRunner:
            return WorldRunner(runtime, clock=lambda: clock[0], on_operations=lambda w, o: None)

        first, second = runner(), runner()

        async def step(by: WorldRunner) -> dict:
            clock[0] += 1000
            await by.step_world(world_id)
            return await store.read(lambda tx: read_world(tx, world_id, ("agents",)))

        await step(first)
        assert len((await step(first))["agents"]) == 3  # kept in memory from here on
        newcomer = {**CHARACTERS[3], "name": "Newcomer"}
        await store.run(
            lambda tx: insert_input(tx, status["engineId"], "createAgent", dict(newcomer))
        )
        assert len((await step(second))["agents"]) == 4  # the other runner took the input
        # The first runner's world in memory is behind: it reads the world again, and
        # the newcomer stays.
        assert len((await step(first))["agents"]) == 4
        assert len((await step(first))["agents"]) == 4
        report = await replay(store, world_id)
        assert report.equal, report.detail
    finally:
        await store.close()
