"""The page follows only what it shows: a region of the map changes when someone in it (or
bound for it) sets off, stops or leaves, never when someone elsewhere walks; bad
rectangles are refused by name; the overview has everyone."""

import asyncio
import itertools
import json
import math

import httpx
import pytest
import websockets

from smalltown.bench.engine_bench import crowd_map
from smalltown.engine.engine import Input, step
from smalltown.engine.state import World
from smalltown.runtime import ANONYMOUS, ArgumentValidationError, ConvexError, Registry, Runtime
from smalltown.server import create_app
from smalltown.store import open_store
from smalltown.town.defaults import many_characters, town_map
from smalltown.town.schema import schema
from smalltown.worlds.creation import create_world
from smalltown.worlds.region import overview, region_view
from smalltown.worlds.view import player_view

from helpers import RunningServer, eventually

SQUARE = (18.0, 11.0, 12.0, 10.0)  # the town square, x y width height in tiles


class Town:
    """Two people on the default map, stepped one second at a time."""

    def __init__(self) -> None:
        self.world, self.map, self.now, self.number = World(), town_map(), 1_000_000.0, 0
        self.step([("join", {"tokenIdentifier": "a"}), ("join", {"tokenIdentifier": "b"})])
        self.a, self.b = (p["id"] for p in self.doc()["players"])

    def doc(self) -> dict:
        return self.world.to_document()

    def step(self, inputs=()) -> None:
        batch = []
        for name, args in inputs:
            self.number += 1
            batch.append(Input(self.number, name, args))
        out = step(self.world, self.map, batch, self.now, seed=1, step_number=self.number)
        self.now = out.end_time

    def move(self, player: str, x: int, y: int) -> None:
        self.step([("moveTo", {"playerId": player, "destination": {"x": x, "y": y}})])

    def standing(self, player: str) -> bool:
        found = next(p for p in self.doc()["players"] if p["id"] == player)
        return "path" not in player_view(found)

    def walk_until_standing(self, player: str, each=lambda: None) -> int:
        steps = 0
        while not self.standing(player):
            self.step()
            each()
            steps += 1
            assert steps < 120, "the walk never ended"
        return steps

    def region(self) -> dict:
        return region_view(self.doc(), SQUARE)


def ids(view: dict) -> list[str]:
    return [p["id"] for p in view["players"]]


def test_a_walker_is_in_the_region_from_setting_off_until_it_stops_outside():
    town = Town()
    town.move(town.a, 4, 15)
    town.move(town.b, 40, 15)
    town.walk_until_standing(town.a)
    town.walk_until_standing(town.b)
    assert town.region()["players"] == []

    # Someone outside walks about: the region's value stays the same, step after step.
    town.move(town.b, 45, 16)
    walked = town.walk_until_standing(town.b, lambda: assert_empty(town.region()))
    assert walked >= 2

    # A walks into the square: in the region from the step it sets off, as its path,
    # and the value does not change again until it arrives.
    town.move(town.a, 24, 15)
    entering = town.region()
    assert ids(entering) == [town.a] and "path" in entering["players"][0]
    seen = []
    town.walk_until_standing(town.a, lambda: seen.append(town.region()))
    assert all(v == entering for v in seen[:-1]) and len(seen) >= 3
    arrived = seen[-1]["players"][0]
    assert arrived["position"] == {"x": 24.0, "y": 15.0}

    # A walks out: still in the region while its path touches it, gone once it stops.
    town.move(town.a, 4, 16)
    leaving = town.region()
    assert ids(leaving) == [town.a] and "path" in leaving["players"][0]
    seen = []
    town.walk_until_standing(town.a, lambda: seen.append(town.region()))
    assert all(v == leaving for v in seen[:-1])
    assert seen[-1]["players"] == []

    # Asked for by id (a panel shows them), a player is there wherever they stand.
    assert ids(region_view(town.doc(), SQUARE, [town.b])) == [town.b]


def assert_empty(view: dict) -> None:
    assert view == {"players": [], "conversations": []}


def busy_crowd(agents: int = 200, steps: int = 150):
    """A crowd on an open map sized to it, every operation answered at once."""
    from smalltown.bench.engine_bench import answers

    world, world_map, now = World(), crowd_map(agents), 1_000_000.0
    creates = [Input(i + 1, "createAgent", {}) for i in range(agents)]
    for n in range(0, agents, 32):  # as many as a step takes
        step(world, world_map, creates[n : n + 32], now, seed=5, step_number=n)
    assert len(world.players) == agents
    pending, number, docs = [], agents, []
    for n in range(steps):
        out = step(world, world_map, pending, now, seed=5, step_number=agents + n)
        now = out.end_time
        pending, number = answers(out.operations, number)
        docs.append(world.to_document())
    return docs


def test_a_neighbourhood_is_resent_only_when_someone_in_it_changes():
    docs = busy_crowd(agents=100, steps=150)
    rect = (0.0, 0.0, 8.0, 8.0)  # a corner, quiet enough to see others walk meanwhile
    changed_elsewhere = quiet = 0
    for before, after in itertools.pairwise(docs):
        old, new = region_view(before, rect), region_view(after, rect)
        inside = set(ids(old)) | set(ids(new))
        views_before = {p["id"]: player_view(p) for p in before["players"]}
        views_after = {p["id"]: player_view(p) for p in after["players"]}
        outside_changed = any(
            views_before.get(i) != views_after.get(i) for i in views_after.keys() - inside
        )
        inside_changed = any(views_before.get(i) != views_after.get(i) for i in inside)
        if old != new:
            # a change is always about someone in (or bound for) the region
            assert (
                inside_changed
                or {c["id"] for c in old["conversations"]}
                != {c["id"] for c in new["conversations"]}
                or old["conversations"] != new["conversations"]
            )
        elif outside_changed:
            changed_elsewhere += 1
        quiet += old == new
    # residents start at a chore, standing; then steps where someone elsewhere set off or
    # stopped and nothing was sent
    assert changed_elsewhere >= 20
    assert quiet >= len(docs) // 3


def test_the_overview_has_everyone_rounded_to_a_tenth_of_a_tile():
    doc = busy_crowd(agents=120, steps=20)[-1]
    view = overview(doc, 123.0)
    assert view["time"] == 123.0
    assert view["ids"] == [p["id"] for p in doc["players"]] and len(view["ids"]) == 120
    assert len(view["xy"]) == 240
    for i, player in enumerate(doc["players"]):
        assert math.isclose(view["xy"][2 * i], player["position"]["x"], abs_tol=0.05)
        assert math.isclose(view["xy"][2 * i + 1], player["position"]["y"], abs_tol=0.05)


BAD_RECTANGLES = [
    ({"x": math.nan}, ConvexError, "x must be a finite number"),
    ({"width": math.inf}, ConvexError, "width must be a finite number"),
    ({"width": -4}, ConvexError, "width and height must be positive"),
    ({"height": 0}, ConvexError, "width and height must be positive"),
    ({"width": 1000, "height": 1000}, ConvexError, "at most 65536 tiles"),
    ({"y": 1e9}, ConvexError, "within 100000 tiles"),
    ({"x": "left"}, ArgumentValidationError, "x:"),
    ({"width": True}, ArgumentValidationError, "width:"),
    ({"height": None}, ArgumentValidationError, "height:"),
]


@pytest.mark.parametrize(("bad", "error", "message"), BAD_RECTANGLES)
async def test_a_nonsensical_rectangle_is_refused_by_name(tmp_path, bad, error, message):
    store = await open_store(f"sqlite:///{tmp_path}/region.db")
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        world_id = await create_world(store, town_map(), many_characters(3))
        good = {"worldId": world_id, "x": 0, "y": 0.5, "width": 16, "height": 16}
        answer = await runtime.query("viewport:region", good, ANONYMOUS)
        assert answer.value == {"players": [], "conversations": []}  # nobody has arrived yet
        with pytest.raises(error, match=message):
            await runtime.query("viewport:region", {**good, **bad}, ANONYMOUS)
        with pytest.raises(ConvexError, match="at most 16 players"):
            await runtime.query(
                "viewport:players",
                {"worldId": world_id, "playerIds": [f"p:{n}" for n in range(17)]},
                ANONYMOUS,
            )
    finally:
        await store.close()


@pytest.mark.timeout(120)
async def test_region_players_and_overview_on_a_real_server(tmp_path, monkeypatch):
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(f"sqlite:///{tmp_path}/viewport.db", "smalltown.town")
    async with RunningServer(app) as server, httpx.AsyncClient(base_url=server.url) as http:

        async def query(path, args):
            return (await http.post("/api/query", json={"path": path, "args": args})).json()

        world_id = (await query("world:listWorlds", {}))["value"][0]["worldId"]

        async def everyone():
            value = (await query("viewport:overview", {"worldId": world_id}))["value"]
            return len(value["ids"]) == 5 and len(value["xy"]) == 10

        await eventually(everyone, "five residents in the overview", timeout=30)
        whole = {"worldId": world_id, "x": 0, "y": 0, "width": 48, "height": 32}
        region = (await query("viewport:region", whole))["value"]
        assert len(region["players"]) == 5
        first = region["players"][0]["id"]
        panel = await query("viewport:players", {"worldId": world_id, "playerIds": [first]})
        assert [p["id"] for p in panel["value"]["players"]] == [first]
        # A string where a number goes is a typed refusal, not a server error.
        bad = await http.post(
            "/api/query", json={"path": "viewport:region", "args": {**whole, "x": "left"}}
        )
        assert bad.status_code < 500 and bad.json()["status"] == "error"
        assert "invalid arguments" in bad.json()["errorMessage"]
        inverted = await query("viewport:region", {**whole, "width": -48})
        assert inverted["status"] == "error" and "bad region" in inverted["errorMessage"]


class Socket:
    """A bare sync-protocol client: adds queries and hears their updates, one by one."""

    def __init__(self, ws) -> None:
        self.ws, self.version, self.next_id = ws, 0, 0

    async def add(self, path: str, args: dict) -> int:
        query_id, self.next_id = self.next_id, self.next_id + 1
        message = {
            "type": "ModifyQuerySet",
            "baseVersion": self.version,
            "newVersion": self.version + 1,
            "modifications": [
                {"type": "Add", "queryId": query_id, "udfPath": path, "args": [args]}
            ],
        }
        self.version += 1
        await self.ws.send(json.dumps(message))
        return query_id

    async def updates(self):
        """Each (query id, value) as Transitions bring them."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if message["type"] != "Transition":
                continue
            for mod in message["modifications"]:
                if mod["type"] == "QueryUpdated":
                    yield mod["queryId"], mod["value"]


@pytest.mark.timeout(120)
async def test_a_live_region_is_not_sent_again_when_someone_elsewhere_walks(tmp_path, monkeypatch):
    # Quick walks, yet a person who stands still while the others walk is not yet idle
    # long enough to be taken out (5 game minutes: 75 s here).
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "4")
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path}/live.db"
    store = await open_store(url)
    try:
        await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        world_id = await create_world(store, town_map(), [])  # nobody walks of their own
    finally:
        await store.close()
    app = create_app(url, "smalltown.town")
    async with RunningServer(app) as server, httpx.AsyncClient(base_url=server.url) as http:

        async def call(kind, path, args, token=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body = (
                await http.post(f"/api/{kind}", json={"path": path, "args": args}, headers=headers)
            ).json()
            assert body.get("status") == "success", body
            return body["value"]

        status = await call("query", "world:defaultWorldStatus", {})
        engine_id = status["engineId"]
        people = {}
        for name in ("Ada", "Bob"):
            joined = await call(
                "mutation",
                "world:joinWorld",
                {"worldId": world_id, "name": name, "character": "f1"},
            )
            people[name] = joined["token"]

        async def everyone_in():
            return (
                len((await call("query", "world:worldRoster", {"worldId": world_id}))["players"])
                == 2
            )

        await eventually(everyone_in, "both people in", timeout=30)
        roster = await call("query", "world:worldRoster", {"worldId": world_id})
        ids = {p["human"]: p["id"] for p in roster["players"]}
        tokens = {
            ids[(await call("query", "world:userStatus", {"worldId": world_id}, token))]: token
            for token in people.values()
        }
        ada, bob = sorted(tokens)

        async def walk(player, x, y):
            await call(
                "mutation",
                "world:sendWorldInput",
                {
                    "engineId": engine_id,
                    "name": "moveTo",
                    "args": {"playerId": player, "destination": {"x": x, "y": y}},
                },
                tokens[player],
            )

        last = {}  # each player as last seen, for a failure's message

        async def arrived(player, x, y):
            """Whether ``player`` stands at (x, y); sent there again if it stopped short
            (a walk the engine refused or cut short: the view says which)."""
            view = await call(
                "query", "world:playerView", {"worldId": world_id, "playerId": player}
            )
            if view.get("position") == {"x": x, "y": y}:
                return True
            state = await call("query", "world:worldState", {"worldId": world_id})
            (found,) = [p for p in state["world"]["players"] if p["id"] == player]
            last[player] = (found.get("position"), found.get("pathfinding"), state["engine"])
            if found.get("pathfinding") is None:  # neither walking nor about to
                await walk(player, x, y)
            return False

        await walk(ada, 4, 15)
        await walk(bob, 40, 15)
        # (a look every 0.2 s: two queries each, within an anonymous caller's rate limit)
        for who, x, y, what in (
            (ada, 4, 15, "Ada at the west end"),
            (bob, 40, 15, "Bob at the east end"),
        ):
            try:
                await eventually(
                    lambda w=who, x=x, y=y: arrived(w, x, y), what, timeout=60, interval=0.2
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}; last seen: {last.get(who)}") from None

        ws = await websockets.connect(server.ws_url + "/api/sync")
        await ws.send(
            json.dumps(
                {
                    "type": "Connect",
                    "sessionId": "viewer",
                    "connectionCount": 0,
                    "lastCloseReason": None,
                    "clientTs": 0,
                }
            )
        )
        socket = Socket(ws)
        x, y, width, height = SQUARE
        region = await socket.add(
            "viewport:region",
            {"worldId": world_id, "x": x, "y": y, "width": width, "height": height},
        )
        watch_bob = await socket.add("world:playerView", {"worldId": world_id, "playerId": bob})
        updates = socket.updates()
        seen = {}
        while len(seen) < 2:
            query_id, value = await anext(updates)
            seen[query_id] = value
        assert seen[region] == {"players": [], "conversations": []}

        # Bob walks about the east end: his own view changes, the square's is not sent.
        await walk(bob, 45, 16)
        while True:
            query_id, value = await anext(updates)
            assert query_id != region, value
            if query_id == watch_bob and value.get("position") == {"x": 45.0, "y": 16.0}:
                break

        # Ada walks into the square: the region is sent with her walk in it.
        await walk(ada, 24, 15)
        query_id, value = await anext(updates)
        assert query_id == region
        assert [p["id"] for p in value["players"]] == [ada] and "path" in value["players"][0]
        await ws.close()


def test_a_region_sends_places_to_a_thousandth_of_a_tile():
    standing = {
        "id": "p:1",
        "position": {"x": 38.00000000000056, "y": 14.808000000000013},
        "facing": {"dx": 0.7778241797349239, "dy": -0.6284819372262762},
    }
    walking = {
        "id": "p:2",
        "position": {"x": 3.1234567, "y": 4.0},
        "facing": {"dx": 1.0, "dy": 0.0},
        "pathfinding": {
            "state": {
                "kind": "moving",
                "path": [[3.1234567, 4.0, 1.0, 0.0, 1000.0], [6.0, 4.0, 1.0, 0.0, 4000.0]],
            }
        },
    }
    world = {"players": [standing, walking], "conversations": []}
    view = region_view(world, (0.0, 0.0, 48.0, 32.0))
    assert view["players"][0]["position"] == {"x": 38.0, "y": 14.808}
    assert view["players"][0]["facing"] == {"dx": 0.778, "dy": -0.628}
    assert view["players"][1]["path"][0][:2] == [3.123, 4.0]
    assert standing["position"]["x"] == 38.00000000000056  # the world is left as it was
