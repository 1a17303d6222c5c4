"""A town stored as parts leaves in an export whole, and an import of it resumes the town
where it was: the same world for every reader, the same bookkeeping, replay still exact."""

import pytest
from world_harness import SteppedWorld

from smalltown.migrate.export import export_zip
from smalltown.migrate.import_zip import import_zip
from smalltown.runtime import Registry, Runtime
from smalltown.town.schema import open_town_store, schema
from smalltown.worlds import parts
from smalltown.worlds.parts import WORLDS_EXPORT, read_plans
from smalltown.worlds.replay import replay


@pytest.mark.timeout(600)
async def test_an_exported_town_imports_and_resumes_exactly(tmp_path, store_url):
    town = await SteppedWorld.open_town(store_url, 5)
    try:
        for _ in range(100):  # they arrive, ask for plans, keep busy, then walk and talk
            await town.step()
        world, plans = (
            await town.world(),
            await town.store.read(lambda tx: read_plans(tx, town.world_id)),
        )
        assert plans and any("pathfinding" in p for p in world["players"])
        await export_zip(town.store, tmp_path / "town.zip", shape=WORLDS_EXPORT)
    finally:
        await town.close()

    store = await open_town_store(f"sqlite:///{tmp_path}/copy.db")
    try:
        await import_zip(store, tmp_path / "town.zip")
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        status = await store.read(lambda tx: tx.first("worldStatus"))
        copy = SteppedWorld(store, runtime, town.world_id, status)
        copy.clock[0] = town.clock[0]
        assert await copy.world() == world  # whole now, as AI Town keeps a world
        assert await store.read(lambda tx: read_plans(tx, town.world_id)) == plans
        assert (await replay(store, town.world_id)).equal

        await copy.step()  # stored as parts again
        row = await store.read(lambda tx: tx.get(town.world_id, table="worlds"))
        assert parts.is_split(row)
        assert (await store.read(lambda tx: read_plans(tx, town.world_id)))[0]["agentId"]
        report = await replay(store, town.world_id)
        assert report.equal and report.steps == 101, report
    finally:
        await store.close()
