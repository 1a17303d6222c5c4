"""Each world allocates ids in a block of its own, so a player id names one player in the
whole database: memories, kept by player id alone as in AI Town, never cross worlds."""

import asyncio
import math

from smalltown.runtime import Registry, Runtime
from smalltown.store import open_store
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.schema import schema
from smalltown.worlds.creation import ID_BLOCK, create_world, default_world, first_free_id
from smalltown.worlds.parts import read_world
from smalltown.worlds.replay import replay
from smalltown.worlds.runner import WorldRunner


def _number(game_id: str) -> int:
    return int(game_id.split(":")[1])


async def test_two_worlds_never_share_an_id_and_still_replay(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/ids.db")
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        first = await create_world(store, town_map(), CHARACTERS)
        second = await create_world(store, town_map(), CHARACTERS, default=False)
        clock = [(await store.read(lambda tx: tx.first("worldStatus")))["lastViewed"]]
        runner = WorldRunner(runtime, clock=lambda: clock[0], on_operations=lambda w, o: None)
        for _ in range(5):
            clock[0] += 1000
            for world_id in (first, second):
                await runner.step_world(world_id)

        worlds = {w: await store.read(lambda tx, w=w: read_world(tx, w)) for w in (first, second)}
        ids = {
            world_id: {p["id"] for p in w["players"]} | {a["id"] for a in w["agents"]}
            for world_id, w in worlds.items()
        }
        assert ids[first] and ids[second]  # the residents arrived in both
        assert all(_number(i) < ID_BLOCK for i in ids[first])
        assert all(ID_BLOCK <= _number(i) < 2 * ID_BLOCK for i in ids[second])
        assert "p:0" in ids[first] and "p:0" not in ids[second]

        for world_id in (first, second):
            report = await replay(store, world_id)
            assert report.equal, report.detail
    finally:
        await store.close()


async def test_the_next_block_is_past_every_world_whatever_their_documents(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/blocks.db", schema)
    try:
        assert await store.read(first_free_id) == 0

        async def add(tx, next_id):
            await tx.insert("worlds", {"nextId": next_id})

        await store.run(lambda tx: add(tx, 7.0))
        assert await store.read(first_free_id) == ID_BLOCK
        await store.run(lambda tx: add(tx, float(ID_BLOCK + 5)))
        for odd in ("x", math.nan, math.inf, -3.0):  # an imported world may hold anything
            await store.run(lambda tx, odd=odd: add(tx, odd))
        assert await store.read(first_free_id) == 2 * ID_BLOCK
    finally:
        await store.close()


async def test_processes_starting_together_make_one_default_world(store_url):
    stores = [await open_store(store_url, schema) for _ in range(3)]  # one a process
    try:
        made = await asyncio.gather(
            *(default_world(store, town_map(), CHARACTERS) for store in stores)
        )
        assert len({world_id for world_id, _ in made}) == 1
        assert sorted(created for _, created in made) == [False, False, True]
        statuses = await stores[0].read(lambda tx: tx.query("worldStatus"))
        assert len(statuses) == 1 and statuses[0]["isDefault"]
        assert await default_world(stores[1], town_map(), CHARACTERS) == (made[0][0], False)
    finally:
        for store in stores:
            await store.close()
