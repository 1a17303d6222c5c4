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
from smalltown.worlds.runner import WorldRunner


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


async def test_a_world_imported_over_a_running_one_is_stepped_from_the_import(tmp_path):
    """The runner keeps the parts it saved last; a whole document written over the world
    (an import into a running town) is what its next step starts from all the same."""
    town = await SteppedWorld.open_town(f"sqlite:///{tmp_path}/over.db", 3)
    try:
        for _ in range(3):
            await town.step()
        imported = {k: v for k, v in (await town.world()).items() if not k.startswith("_")}
        stranger = {**imported["players"][0], "id": "p:999", "position": {"x": 1.0, "y": 1.0}}
        imported["players"].append(stranger)
        await town.store.run(lambda tx: tx.replace(town.world_id, imported))
        await town.step()
        world = await town.world()
        assert "p:999" in {p["id"] for p in world["players"]}
        assert parts.is_split(await town.store.read(lambda tx: tx.get(town.world_id)))
    finally:
        await town.close()


async def test_a_runner_steps_on_from_what_another_runner_saved(tmp_path):
    """Two runners take turns with a world (as after a takeover and back): each starts
    from the stored world, not from the parts it saved itself earlier."""
    town = await SteppedWorld.open_town(f"sqlite:///{tmp_path}/turns.db", 5)
    try:
        await town.send("join", {"tokenIdentifier": "ada", "name": "Ada"})
        await town.step()
        (ada,) = [p["id"] for p in (await town.world())["players"] if p.get("human")]
        await town.send("moveTo", {"playerId": ada, "destination": {"x": 40.0, "y": 20.0}})
        other = WorldRunner(town.runtime, clock=lambda: town.clock[0], on_operations=None)
        for n in range(20):  # Ada walks all along
            town.clock[0] += 1000
            await (town.runner if n % 2 else other).step_world(town.world_id)
        report = await replay(town.store, town.world_id)
        assert report.equal and report.steps == 21, report
    finally:
        await town.close()
