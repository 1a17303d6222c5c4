"""Replay rebuilds a world that ran for ten minutes of game time, exactly."""

import pytest

from smalltown.runtime import Registry, Runtime
from smalltown.store import open_store
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.schema import schema
from smalltown.worlds import parts
from smalltown.worlds.creation import create_world
from smalltown.worlds.inputs import insert_input
from smalltown.worlds.replay import replay
from smalltown.worlds.runner import WorldRunner


@pytest.mark.timeout(300)
async def test_replay_reproduces_ten_minutes_of_a_town(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/replay.db")
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        world_id = await create_world(store, town_map(), CHARACTERS)
        status = await store.read(
            lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": world_id})
        )
        engine_id = status["engineId"]
        clock = [status["lastViewed"]]
        operations = []
        runner = WorldRunner(
            runtime, clock=lambda: clock[0], on_operations=lambda w, ops: operations.extend(ops)
        )

        async def send(name, args):
            return await store.run(lambda tx: insert_input(tx, engine_id, name, args))

        await send("join", {"tokenIdentifier": "ada", "name": "Ada"})
        talked = 0
        for second in range(600):
            clock[0] += 1000
            await store.run(lambda tx: tx.patch(status["_id"], {"lastViewed": clock[0]}))
            await runner.step_world(world_id)
            for op in operations:
                if op.name == "generateMessage":
                    talked += 1
                    await send(
                        "agentFinishMessage",
                        {
                            "agentId": op.args["agentId"],
                            "conversationId": op.args["conversationId"],
                            "messageUuid": op.args["messageUuid"],
                            "operationId": op.operation_id,
                            "leave": op.args["kind"] == "leave",
                        },
                    )
                elif op.name == "rememberConversation":
                    await send(
                        "agentFinishRememberConversation",
                        {"agentId": op.args["agentId"], "operationId": op.operation_id},
                    )
            operations.clear()
            if second % 60 == 0:
                await send(
                    "moveTo", {"playerId": "p:0", "destination": {"x": 5 + second % 30, "y": 15}}
                )
        assert talked > 0  # conversations happened, so the replay covers them

        # Ended conversations are archived, and each player's latest is found.
        archived = await store.read(lambda tx: tx.query("archivedConversations"))
        assert archived
        someone = archived[-1]["participants"][0]
        previous = await runtime.query(
            "world:previousConversation", {"worldId": world_id, "playerId": someone}
        )
        assert previous.value is not None and someone in previous.value["participants"]

        report = await replay(store, world_id)
        assert report.equal, report.detail
        assert report.steps == 600 and report.inputs > 10

        # State written behind the engine's back is caught, in any part of the world.
        changes = {  # each as the engine never would
            "nextId": lambda v: 12345.0,
            "player": lambda v: {**v, "speed": 12345.0},
            "plan": lambda v: {**v, "replans": 12345.0},
        }
        for (kind, change), field in zip(
            changes.items(), ("nextId", "players", "smalltownPlans"), strict=True
        ):
            was = await store.run(lambda tx, k=kind, c=change: _tamper(tx, world_id, k, c))
            tampered = await replay(store, world_id)
            assert not tampered.equal and field in tampered.detail
            await store.run(lambda tx, k=kind, v=was: _tamper(tx, world_id, k, lambda _: v))
        assert (await replay(store, world_id)).equal
    finally:
        await store.close()


async def _tamper(tx, world_id, kind, change):
    """Change the first stored part of ``kind`` (``change`` gives its new value from its
    value); its value before."""
    part = await tx.first(parts.TABLE, parts.INDEX, eq={"worldId": world_id, "kind": kind})
    await tx.patch(part["_id"], {"value": change(part["value"])})
    return part["value"]


async def test_a_world_nobody_views_sleeps_and_a_heartbeat_wakes_it(tmp_path):
    from smalltown.runtime import ANONYMOUS
    from smalltown.worlds.runner import IDLE_MS

    store = await open_store(f"sqlite:///{tmp_path}/sleep.db")
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        world_id = await create_world(store, town_map(), CHARACTERS)
        status = await store.read(
            lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": world_id})
        )
        clock = [status["lastViewed"] + 2000]
        runner = WorldRunner(runtime, clock=lambda: clock[0], on_operations=lambda w, o: None)
        assert await runner.run_due() == 1  # viewed recently: it steps
        clock[0] += IDLE_MS + 1000
        assert await runner.run_due() == 0
        asleep = await runtime.query("world:defaultWorldStatus", {}, ANONYMOUS)
        assert asleep.value["status"] == "inactive"
        await runtime.mutation("world:heartbeatWorld", {"worldId": world_id}, ANONYMOUS)
        awake = await runtime.query("world:defaultWorldStatus", {}, ANONYMOUS)
        assert awake.value["status"] == "running"
        # The heartbeat stamped the real time; the runner here runs on a fake clock ahead of
        # it, so stamp the viewing at the fake "now" as the heartbeat would have.
        clock[0] += 2000
        await store.run(lambda tx: tx.patch(awake.value["_id"], {"lastViewed": clock[0]}))
        assert await runner.run_due() == 1
    finally:
        await store.close()
