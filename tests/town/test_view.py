"""The viewer-shaped world: the same walk for the page, a fraction of the bytes."""

import itertools
import json

import httpx
import pytest

from smalltown.bench.bandwidth_bench import GOAL, simulate
from smalltown.engine.engine import Input, step
from smalltown.engine.state import World
from smalltown.server import create_app
from smalltown.town.defaults import many_characters, town_map
from smalltown.worlds.view import world_view

from helpers import RunningServer, eventually


def at(path, now):
    """Where a path puts a player at ``now``: the page's interpolation, in Python."""
    if now <= path[0][4]:
        return path[0][0], path[0][1]
    for a, b in itertools.pairwise(path):
        if now < b[4]:
            f = (now - a[4]) / (b[4] - a[4])
            return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f
    return path[-1][0], path[-1][1]


def busy_world(steps: int = 90):
    """A world of 25 residents after ``steps`` seconds, and its document at each step."""
    world, world_map, now = World(), town_map(), 1_000_000.0
    step(
        world,
        world_map,
        [Input(i + 1, "createAgent", {}) for i in range(25)],
        now,
        seed=3,
        step_number=0,
    )
    docs = []
    for n in range(steps):
        out = step(world, world_map, [], now, seed=3, step_number=n + 1)
        now = out.end_time
        docs.append(world.to_document())
    return docs


def test_a_walk_is_drawn_the_same_from_its_turns_alone():
    walks = [
        p["pathfinding"]["state"]["path"]
        for doc in busy_world()
        for p in doc["players"]
        if p.get("pathfinding", {}).get("state", {}).get("kind") == "moving"
    ]
    assert len(walks) > 20
    shortened = 0
    for full in walks:
        player = {
            "id": "p:0",
            "position": {"x": 0, "y": 0},
            "facing": {"dx": 0, "dy": 1},
            "pathfinding": {"state": {"kind": "moving", "path": full}},
        }
        compact = world_view({"players": [player]})["players"][0]["path"]
        assert compact[0][:2] == full[0][:2] and compact[-1][:2] == full[-1][:2]
        shortened += len(compact) < len(full)
        start, end = full[0][4], full[-1][4]
        for k in range(101):
            now = start + (end - start) * k / 100
            x, y = at(full, now)
            cx, cy = at(compact, now)
            assert abs(x - cx) < 1e-3 and abs(y - cy) < 1e-3, (full, compact, now)
    assert shortened > len(walks) / 2


def test_walkers_are_sent_as_paths_and_the_rest_where_they_stand():
    doc = busy_world()[-1]
    view = world_view(doc)
    by_id = {p["id"]: p for p in doc["players"]}
    for shown in view["players"]:
        state = by_id[shown["id"]].get("pathfinding", {}).get("state", {})
        if state.get("kind") == "moving":
            assert "path" in shown and "position" not in shown
        else:
            assert shown["position"] == by_id[shown["id"]]["position"]
            assert "path" not in shown
    for agent in view["agents"]:
        assert set(agent) == {"id", "playerId"}  # no bookkeeping the page does not draw


def test_the_view_stays_put_while_people_merely_walk():
    docs = busy_world(180)  # three minutes: on the town's map, walks begin and end in them
    same = sum(
        1
        for before, after in itertools.pairwise(docs)
        if before != after and world_view(before) == world_view(after)
    )
    assert same >= 10  # steps where the world changed and the page is sent nothing


def test_a_viewer_downloads_at_most_half_of_the_whole_world():
    figures = simulate(agents=25, minutes=3)
    assert figures["whole_bytes_per_s"] > 5_000  # a busy world, not an idle one
    assert figures["ratio"] <= GOAL, figures


@pytest.mark.timeout(120)
async def test_the_page_queries_on_a_real_server(tmp_path, monkeypatch):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(f"sqlite:///{tmp_path}/view.db", "smalltown.town")
    async with RunningServer(app) as server, httpx.AsyncClient(base_url=server.url) as http:

        async def query(path, args):
            body = (await http.post("/api/query", json={"path": path, "args": args})).json()
            return body

        worlds = (await query("world:listWorlds", {}))["value"]
        assert len(worlds) == 1 and worlds[0]["isDefault"] is True
        assert "lastViewed" not in worlds[0]  # heartbeats do not re-send the list
        world_id = worlds[0]["worldId"]

        async def residents():
            view = (await query("world:worldView", {"worldId": world_id}))["value"]
            return len(view["players"]) == 5

        await eventually(residents, timeout=30)
        clock = (await query("world:worldClock", {"worldId": world_id}))["value"]
        assert clock["currentTime"] > 0
        view = (await query("world:worldView", {"worldId": world_id}))["value"]
        state = (await query("world:worldState", {"worldId": world_id}))["value"]
        assert len(json.dumps(view)) < len(json.dumps(state["world"]))
        resident = view["agents"][0]["playerId"]
        details = (await query("world:playerDetails", {"worldId": world_id, "playerId": resident}))[
            "value"
        ]
        assert set(details) == {"pastConversations", "memories", "plan"}
        assert isinstance(details["pastConversations"], list)
        assert isinstance(details["memories"], list)
        roster = (await query("world:worldRoster", {"worldId": world_id}))["value"]
        assert [p["id"] for p in roster["players"]] == [p["id"] for p in view["players"]]
        assert all(set(p) <= {"id", "human"} for p in roster["players"])  # no positions
        talks = await query("world:worldConversations", {"worldId": world_id})
        assert all(set(c) <= {"id", "participants", "isTyping"} for c in talks["value"])
        for player in roster["players"]:
            one = await query("world:playerView", {"worldId": world_id, "playerId": player["id"]})
            assert one["value"]["id"] == player["id"]
            assert ("path" in one["value"]) != ("position" in one["value"])
        gone = await query("world:playerView", {"worldId": world_id, "playerId": "p:999"})
        assert gone["status"] == "success" and gone["value"] is None
        lines = await query(
            "messages:conversationLines", {"worldId": world_id, "conversationId": "c:999"}
        )
        assert lines["value"] == []
        unknown = await query("world:worldView", {"worldId": "nonsense"})
        assert unknown["status"] == "error" and "no world" in unknown["errorMessage"]


def test_crowds_get_distinct_names():
    names = [c["name"] for c in many_characters(13)]
    assert len(set(names)) == 13 and names[12] == names[0] + " 2"
    looks = [c["character"] for c in many_characters(12)]
    assert len(set(looks)) == 12  # twelve people, twelve looks
