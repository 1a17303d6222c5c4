"""Old history is pruned without losing replay: it starts from a checkpoint instead."""

import math

import pytest

from smalltown.config import DEFAULT_HISTORY_DAYS, SettingError, Settings
from smalltown.runtime import Registry, Runtime
from smalltown.store import open_store
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.schema import schema
from smalltown.worlds.creation import create_world
from smalltown.worlds.history import prune_all, prune_history
from smalltown.worlds.inputs import insert_input
from smalltown.worlds.replay import replay
from smalltown.worlds.runner import WorldRunner


class Town:
    def __init__(self, store, runtime, world_id, status):
        self.store, self.world_id, self.status = store, world_id, status
        self.clock = [status["lastViewed"]]
        self.runner = WorldRunner(
            runtime,
            clock=lambda: self.clock[0],
            on_operations=lambda w, o: None,
            checkpoint_steps=10,
        )

    async def run(self, steps):
        for i in range(steps):
            self.clock[0] += 1000
            if i % 3 == 0:  # a steady trickle of inputs
                move = {"playerId": "p:0", "destination": {"x": 3 + i % 7, "y": 4}}
                await self.store.run(
                    lambda tx, m=move: insert_input(tx, self.status["engineId"], "moveTo", m)
                )
            await self.store.run(
                lambda tx: tx.patch(self.status["_id"], {"lastViewed": self.clock[0]})
            )
            assert await self.runner.run_due() == 1  # (taking the world's lease)

    async def rows(self, table, index, eq):
        return await self.store.read(lambda tx: tx.query(table, index, eq=eq))


@pytest.fixture
async def town(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/history.db")
    runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
    world_id = await create_world(store, town_map(), CHARACTERS)
    status = await store.read(
        lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": world_id})
    )
    yield Town(store, runtime, world_id, status)
    await store.close()


async def test_pruning_moves_replay_to_a_checkpoint_and_deletes_what_came_before(town):
    await town.run(45)
    by_world = {"worldId": town.world_id}
    checkpoints = await town.rows("smalltownCheckpoints", "worldStep", by_world)
    assert [c["step"] for c in checkpoints] == [9.0, 19.0, 29.0, 39.0]
    cut = checkpoints[1]
    inputs_before = await town.rows(
        "inputs", "byInputNumber", {"engineId": town.status["engineId"]}
    )
    assert any(i["number"] <= cut["lastInput"] for i in inputs_before)

    pruned = await prune_history(town.store, town.world_id, cut["time"] + 500)
    assert pruned.after_step == 19 and pruned.steps == 20 and pruned.checkpoints == 2
    assert pruned.inputs == sum(1 for i in inputs_before if i["number"] <= cut["lastInput"])
    steps = await town.rows("smalltownSteps", "worldStep", by_world)
    assert [s["step"] for s in steps] == [float(n) for n in range(20, 45)]
    inputs = await town.rows("inputs", "byInputNumber", {"engineId": town.status["engineId"]})
    assert inputs and all(i["number"] > cut["lastInput"] for i in inputs)

    report = await replay(town.store, town.world_id)
    assert report.equal, report.detail
    assert report.after_step == 19 and report.steps == 25

    await town.run(12)  # the world carries on, and replay still holds
    report = await replay(town.store, town.world_id)
    assert report.equal and report.steps == 37

    again = await prune_history(town.store, town.world_id, cut["time"] + 500)
    assert again.after_step is None and again.steps == again.inputs == 0  # nothing older


async def test_a_world_without_a_first_state_gains_one_at_its_first_checkpoint(town):
    await town.run(25)
    base = await town.store.read(
        lambda tx: tx.first("smalltownInitialWorlds", "worldId", eq={"worldId": town.world_id})
    )
    await town.store.run(lambda tx: tx.delete(base["_id"]))  # as an imported world has none
    with pytest.raises(ValueError, match="no recorded first state"):
        await replay(town.store, town.world_id)

    pruned = await prune_history(town.store, town.world_id, before_ms=0)  # nothing is old
    assert pruned.after_step == 9 and pruned.steps == pruned.inputs == 0
    assert len(await town.rows("smalltownSteps", "worldStep", {"worldId": town.world_id})) == 25
    report = await replay(town.store, town.world_id)
    assert report.equal and report.after_step == 9 and report.steps == 15


async def test_prune_all_keeps_each_world_s_last_days_of_game_time(town):
    await town.run(30)
    assert [p.after_step for p in await prune_all(town.store, days=1)] == [None]  # all recent
    fifteen_s = 15_000 / 86_400_000
    # A process prunes the worlds its runner holds; others are left to their holders.
    assert await prune_all(town.store, days=fifteen_s, owner="another process") == []
    pruned = await prune_all(town.store, days=fifteen_s, owner=town.runner.owner)
    assert [p.after_step for p in pruned] == [9]  # step 19's checkpoint is only 11 s old
    assert (await replay(town.store, town.world_id)).equal


@pytest.mark.parametrize(
    ("raw", "days"),
    [
        ("", DEFAULT_HISTORY_DAYS),
        (" ", DEFAULT_HISTORY_DAYS),
        ("0", None),
        ("2.5", 2.5),
        (" 30 ", 30.0),
    ],
)
def test_history_days_from_the_settings(raw, days):
    assert Settings.from_env({"SMALLTOWN_HISTORY_DAYS": raw}).history_days == days


@pytest.mark.parametrize("raw", ["x", "-1", "nan", "inf", str(math.inf)])
def test_a_bad_history_days_value_says_what_to_give(raw):
    with pytest.raises(SettingError, match="must be a number of days, 0 or more"):
        Settings.from_env({"SMALLTOWN_HISTORY_DAYS": raw})


async def test_replay_reads_history_a_page_at_a_time_and_notices_a_gap(town):
    await town.run(23)
    whole = await replay(town.store, town.world_id)
    paged = await replay(town.store, town.world_id, page=4)
    assert whole.equal and paged.equal
    assert (paged.steps, paged.inputs) == (whole.steps, whole.inputs) == (23, whole.inputs)
    assert whole.inputs > 5

    gap = await town.store.read(
        lambda tx: tx.first(
            "smalltownSteps", "worldStep", eq={"worldId": town.world_id, "step": 10.0}
        )
    )
    await town.store.run(lambda tx: tx.delete(gap["_id"]))
    broken = await replay(town.store, town.world_id, page=4)
    assert not broken.equal and "step 10 is missing" in broken.detail
