"""A step writes what changed: one walker costs a sliver of the world, and live queries
that do not read what changed are not re-run."""

import math

import pytest
from world_harness import SteppedWorld

from smalltown.runtime import ANONYMOUS
from smalltown.store import overlaps
from smalltown.town.defaults import town_map

RESIDENTS = 200


async def _a_town_with_ada(store_url: str) -> tuple[SteppedWorld, str]:
    """200 residents, all arrived and keeping to their first activity (a minute where they
    stand), and Ada, a person, who joined after them."""
    town = await SteppedWorld.open_town(store_url, RESIDENTS)
    while len((await town.world())["agents"]) < RESIDENTS:
        await town.step()
    await town.send("join", {"tokenIdentifier": "ada", "name": "Ada"})
    while not (ada := [p["id"] for p in (await town.world())["players"] if p.get("human")]):
        await town.step()  # (after the residents' answers queued before her)
    return town, ada[0]


async def _walk_far(town: SteppedWorld, player_id: str) -> None:
    """Send ``player_id`` to the free tile farthest from where it stands; it sets off."""
    world = await town.world()
    at = next(p["position"] for p in world["players"] if p["id"] == player_id)
    x, y = max(town_map().free_tiles(), key=lambda t: math.dist(t, (at["x"], at["y"])))
    await town.send("moveTo", {"playerId": player_id, "destination": {"x": x, "y": y}})
    await town.step()  # takes the input and plans the path


@pytest.mark.timeout(900)
async def test_a_step_where_one_player_walks_writes_a_sliver_of_the_world(store_url):
    town, ada = await _a_town_with_ada(store_url)
    try:
        whole = await town.whole_size()
        quiet = await town.step_writes()  # nobody moves, nothing changes
        assert await town.parts_written(quiet) == set()
        assert (await town.last_step())["bytesWritten"] * 50 < whole  # under 2%

        await _walk_far(town, ada)
        walking = await town.step_writes()
        assert await town.parts_written(walking) == {("player", ada)}  # place and locations
        written = (await town.last_step())["bytesWritten"]
        assert written * 20 < whole, (written, whole)  # at most 5% of the world
    finally:
        await town.close()


@pytest.mark.timeout(600)
async def test_a_walk_re_runs_the_walkers_view_and_no_one_elses(tmp_path):
    town, ada = await _a_town_with_ada(f"sqlite:///{tmp_path}/views.db")
    try:
        other = next(p["id"] for p in (await town.world())["players"] if p["id"] != ada)
        await _walk_far(town, ada)

        async def reads(path: str, **args):
            done = await town.runtime.query(path, {"worldId": town.world_id, **args}, ANONYMOUS)
            return done.reads

        views = {p: await reads("world:playerView", playerId=p) for p in (ada, other)}
        talk = await reads("world:worldConversations")
        state = await reads("world:worldState")
        writes = await town.step_writes()
        assert overlaps(views[ada], writes) and overlaps(state, writes)
        assert not overlaps(views[other], writes)
        assert not overlaps(talk, writes)
    finally:
        await town.close()
