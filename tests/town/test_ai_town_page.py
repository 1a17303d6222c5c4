"""AI Town's own page against the town: every call its `src/` makes, as facts (path,
arguments, the shape of the answer), checked on a real server; and its players, who sign
nobody in, played with the official `convex` client (tests/js/ai_town_page.mjs).

The shapes are AI Town's as its page and validators use them, written down here: a
``float`` is a JSON number (a Convex Float64, never an Int64), ``"bytes"`` an ArrayBuffer
on the wire, ``{...}`` an object with these fields (``?`` optional), ``[x]`` a list.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from smalltown.config import Settings
from smalltown.server import create_app

from conftest import require_service
from helpers import RunningServer, eventually

JS = Path(__file__).resolve().parents[1] / "js"

NUMBER, STRING, BOOL, NULL, BYTES = float, str, bool, type(None), "bytes"
Shape = Any

POINT = {"x": NUMBER, "y": NUMBER}
WORLD_STATUS = {
    "_id": STRING,
    "_creationTime": NUMBER,
    "worldId": STRING,
    "engineId": STRING,
    "isDefault": BOOL,
    "lastViewed": NUMBER,
    "status": ("running", "stoppedByDeveloper", "inactive"),
}
PLAYER = {
    "id": STRING,
    "human?": STRING,
    "pathfinding?": {
        "destination": POINT,
        "started": NUMBER,
        "state": (
            {"kind": ("needsPath",)},
            {"kind": ("waiting",), "until": NUMBER},
            {"kind": ("moving",), "path": [[NUMBER]]},  # [x, y, dx, dy, t] each
        ),
    },
    "activity?": {"description": STRING, "emoji?": STRING, "until": NUMBER},
    "lastInput": NUMBER,
    "position": POINT,
    "facing": {"dx": NUMBER, "dy": NUMBER},
    "speed": NUMBER,
}
PARTICIPANT = {
    "playerId": STRING,
    "invited": NUMBER,
    "status": (
        {"kind": ("invited",)},
        {"kind": ("walkingOver",)},
        {"kind": ("participating",), "started": NUMBER},
    ),
}
CONVERSATION = {
    "id": STRING,
    "creator": STRING,
    "created": NUMBER,
    "isTyping?": {"playerId": STRING, "messageUuid": STRING, "since": NUMBER},
    "lastMessage?": {"author": STRING, "timestamp": NUMBER},
    "numMessages": NUMBER,
    "participants": [PARTICIPANT],
}
AGENT = {
    "id": STRING,
    "playerId": STRING,
    "toRemember?": STRING,
    "lastConversation?": NUMBER,
    "lastInviteAttempt?": NUMBER,
    "inProgressOperation?": {"name": STRING, "operationId": STRING, "started": NUMBER},
}
WORLD = {
    "_id": STRING,
    "_creationTime": NUMBER,
    "nextId": NUMBER,
    "players": [PLAYER],
    "agents": [AGENT],
    "conversations": [CONVERSATION],
    "historicalLocations?": [{"playerId": STRING, "location": BYTES}],
}
ENGINE = {
    "_id": STRING,
    "_creationTime": NUMBER,
    "currentTime?": NUMBER,
    "lastStepTs?": NUMBER,
    "processedInputNumber?": NUMBER,
    "running": BOOL,
    "generationNumber": NUMBER,
}
SPRITE = {
    "x": NUMBER,
    "y": NUMBER,
    "w": NUMBER,
    "h": NUMBER,
    "layer": NUMBER,
    "sheet": STRING,
    "animation": STRING,
}
WORLD_MAP = {
    "_id": STRING,
    "_creationTime": NUMBER,
    "worldId": STRING,
    "width": NUMBER,
    "height": NUMBER,
    "tileSetUrl": STRING,
    "tileSetDimX": NUMBER,
    "tileSetDimY": NUMBER,
    "tileDim": NUMBER,
    "bgTiles": [[[NUMBER]]],
    "objectTiles": [[[NUMBER]]],
    "animatedSprites": [SPRITE],
}
DESCRIPTIONS = {
    "worldMap": WORLD_MAP,
    "playerDescriptions": [
        {
            "_id": STRING,
            "_creationTime": NUMBER,
            "worldId": STRING,
            "playerId": STRING,
            "name": STRING,
            "description": STRING,
            "character": STRING,
        }
    ],
    "agentDescriptions": [
        {
            "_id": STRING,
            "_creationTime": NUMBER,
            "worldId": STRING,
            "agentId": STRING,
            "identity": STRING,
            "plan": STRING,
        }
    ],
}
ARCHIVED_CONVERSATION = {
    "_id": STRING,
    "_creationTime": NUMBER,
    "worldId": STRING,
    "id": STRING,
    "creator": STRING,
    "created": NUMBER,
    "ended": NUMBER,
    "lastMessage?": {"author": STRING, "timestamp": NUMBER},
    "numMessages": NUMBER,
    "participants": [STRING],
}
MESSAGE = {
    "_id": STRING,
    "_creationTime": NUMBER,
    "conversationId": STRING,
    "messageUuid": STRING,
    "author": STRING,
    "text": STRING,
    "worldId?": STRING,
    "authorName": STRING,
}
#: the sprite sheets AI Town's page knows by name (its `PixiStaticMap.tsx`); any other it
#: cannot draw, and says so on its console
AI_TOWN_SHEETS = {
    "campfire.json",
    "gentlesparkle.json",
    "gentlewaterfall.json",
    "gentlesplash.json",
    "windmill.json",
}
INPUT_STATUS = (NULL, {"kind": ("ok",), "value?": object}, {"kind": ("error",), "message": STRING})

#: every query AI Town's `src/` subscribes to or runs: (path, its arguments, the answer's
#: shape), the arguments made from the world at hand (`src/components`, `src/hooks`)
QUERIES: list[tuple[str, Any, Shape]] = [
    ("world:defaultWorldStatus", lambda w: {}, WORLD_STATUS),
    ("world:worldState", lambda w: {"worldId": w["worldId"]}, {"world": WORLD, "engine": ENGINE}),
    ("world:gameDescriptions", lambda w: {"worldId": w["worldId"]}, DESCRIPTIONS),
    ("world:userStatus", lambda w: {"worldId": w["worldId"]}, (NULL, STRING)),
    (
        "world:previousConversation",
        lambda w: {"worldId": w["worldId"], "playerId": w["player"]},
        (NULL, ARCHIVED_CONVERSATION),
    ),
    (
        "messages:listMessages",
        lambda w: {"worldId": w["worldId"], "conversationId": w["conversation"]},
        [MESSAGE],
    ),
    ("testing:stopAllowed", lambda w: {}, BOOL),
    ("music:getBackgroundMusic", lambda w: {}, (NULL, STRING)),
    ("aiTown/main:inputStatus", lambda w: {"inputId": w["inputId"]}, INPUT_STATUS),
]
#: and every mutation it sends, with the arguments it sends (each played below, or in
#: ai_town_page.mjs with the official client)
MUTATIONS = {
    "world:heartbeatWorld": ["worldId"],
    "world:joinWorld": ["worldId"],
    "world:leaveWorld": ["worldId"],
    "world:sendWorldInput": ["engineId", "name", "args"],
    "messages:writeMessage": ["worldId", "conversationId", "messageUuid", "playerId", "text"],
    "testing:stop": [],
    "testing:resume": [],
}


def mismatch(value: Any, shape: Shape, where: str = "result") -> str | None:
    """Why ``value`` (as the HTTP API sends it) does not have ``shape``; None if it does."""
    if shape is object:
        return None
    if isinstance(shape, tuple):  # one of these shapes, or one of these strings
        if all(isinstance(s, str) and s != BYTES for s in shape):
            return None if value in shape else f"{where}: {value!r} is none of {shape}"
        for option in shape:
            if mismatch(value, option, where) is None:
                return None
        return f"{where}: {json.dumps(value)[:200]} fits none of its shapes"
    if shape == BYTES:
        ok = isinstance(value, dict) and set(value) == {"$bytes"}
        return None if ok else f"{where}: not bytes"
    if shape is NUMBER:
        ok = isinstance(value, float | int) and not isinstance(value, bool)
        return None if ok else f"{where}: {value!r} is not a Float64"
    if shape in (STRING, BOOL, NULL):
        ok = type(value) is shape
        return None if ok else f"{where}: {value!r} is not a {shape.__name__}"
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where}: not a list"
        for i, item in enumerate(value):
            if (problem := mismatch(item, shape[0], f"{where}[{i}]")) is not None:
                return problem
        return None
    if not isinstance(value, dict):
        return f"{where}: not an object"
    fields = {k.rstrip("?"): k.endswith("?") for k in shape}
    extra = set(value) - set(fields)
    if extra:
        return f"{where}: fields AI Town does not declare: {sorted(extra)}"
    for name, optional in fields.items():
        if name not in value:
            if not optional:
                return f"{where}: no {name}"
            continue
        key = f"{name}?" if optional else name
        if (problem := mismatch(value[name], shape[key], f"{where}.{name}")) is not None:
            return problem
    return None


def test_the_shape_checker_catches_what_it_should():
    assert mismatch({"x": 1.0, "y": 2.0}, POINT) is None
    assert "Float64" in mismatch({"x": {"$integer": "AQAAAAAAAAA="}, "y": 1.0}, POINT)
    assert "does not declare" in mismatch({"x": 1.0, "y": 1.0, "z": 1.0}, POINT)
    assert "no y" in mismatch({"x": 1.0}, POINT)
    assert mismatch(None, (NULL, STRING)) is None
    assert mismatch("inactive", WORLD_STATUS["status"]) is None
    assert mismatch("asleep", WORLD_STATUS["status"]) is not None


async def _call(http: httpx.AsyncClient, kind: str, path: str, args: dict, auth: str = ""):
    headers = {"Authorization": auth} if auth else {}
    body = {"path": path, "args": args, "format": "convex_encoded_json"}  # Int64, bytes tagged
    response = await http.post(f"/api/{kind}", json=body, headers=headers)
    body = response.json()
    assert body["status"] == "success", (path, body)
    return body["value"]


@pytest.mark.timeout(180)
async def test_every_call_of_ai_towns_page_answers_in_its_shapes(tmp_path):
    """A world with a talk behind it and a walker: each query's answer fits AI Town's
    shapes, its assets load from another origin, and its location history is packed."""
    node = shutil.which("node")
    if node is None:
        require_service("Node.js", "node is not on PATH")
    if not (JS / "node_modules" / "convex").exists():
        require_service("the convex npm package", f"run `npm ci` in {JS}")
    from helpers import free_port

    port = free_port()
    config = Settings(port=port, step_ms=1000.0)
    app = create_app(f"sqlite:///{tmp_path}/page.db", "smalltown.town", config=config)
    async with (
        RunningServer(app, port=port) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20) as http,
    ):
        status = await _call(http, "query", "world:defaultWorldStatus", {})
        world_id = status["worldId"]

        joined = await _call(
            http,
            "mutation",
            "world:joinWorld",
            {"worldId": world_id, "name": "Tess", "character": "f2"},
        )

        async def token_player():
            done = await _call(
                http, "query", "aiTown/main:inputStatus", {"inputId": joined["inputId"]}
            )
            return done and done["value"]

        token_player_id = await eventually(token_player, "the token player to join")
        await _call(
            http,
            "mutation",
            "world:sendWorldInput",
            {
                "engineId": status["engineId"],
                "name": "moveTo",
                "args": {"playerId": token_player_id, "destination": {"x": 40.0, "y": 16.0}},
            },
            auth=f"Bearer {joined['token']}",
        )

        async def walking():
            state = await _call(http, "query", "world:worldState", {"worldId": world_id})
            return state if state["world"].get("historicalLocations") else None

        state = await eventually(walking, "the player walking", timeout=30)
        engine = state["engine"]
        # the previous step's game time: a step of game time, or a little more when the
        # runner was late and the step skipped the lag
        assert 1000 <= engine["currentTime"] - engine["lastStepTs"] < 2000
        known = {
            "worldId": world_id,
            "player": state["world"]["players"][0]["id"],
            "conversation": "c:0",
            "inputId": joined["inputId"],
        }
        for path, args, shape in QUERIES:
            value = await _call(http, "query", path, args(known))
            assert mismatch(value, shape) is None, (path, mismatch(value, shape))

        descriptions = await _call(http, "query", "world:gameDescriptions", {"worldId": world_id})
        assert all(d["description"].strip() for d in descriptions["playerDescriptions"])
        sprites = descriptions["worldMap"]["animatedSprites"]
        assert {sprite["sheet"] for sprite in sprites} <= AI_TOWN_SHEETS
        tiles = descriptions["worldMap"]["tileSetUrl"]
        tune = await _call(http, "query", "music:getBackgroundMusic", {})
        for url in (tiles, tune):
            assert url.startswith(f"http://127.0.0.1:{port}/assets/"), url
            got = await http.get(url, headers={"Origin": "http://elsewhere.test"})
            assert got.status_code == 200 and got.headers["access-control-allow-origin"] == "*"
        assert got.content[:4] == b"RIFF"

        proc = await asyncio.create_subprocess_exec(
            node,
            str(JS / "ai_town_page.mjs"),
            server.url,
            token_player_id,
            cwd=JS,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = output.decode()
    assert proc.returncode == 0, text
    steps = [json.loads(line)["step"] for line in text.splitlines() if line.startswith("{")]
    assert steps == [
        "each browser is somebody of its own",
        "joinWorld({worldId}) answers an input id, and each browser plays its own player",
        "a browser that plays already cannot join again",
        "a click walks the browser's own player",
        "neither browser acts for another's player",
        "a browser reaches no admin function, and may not freeze by default",
        "one browser invites the other, who accepts",
        "leaveWorld takes out the caller's player only",
    ], text


async def test_the_towns_fountain_is_at_rest_for_ai_towns_page_and_flows_on_ours(tmp_path):
    """The town's map names no sprite sheet AI Town's page does not know: the fountain is
    tiles of the tile set there, and smalltown's page is given the water to draw over it."""
    from smalltown.town.defaults import FOUNTAIN, FOUNTAIN_TILES

    app = create_app(f"sqlite:///{tmp_path}/fountain.db", "smalltown.town")
    async with (
        RunningServer(app) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20) as http,
    ):
        world_id = (await _call(http, "query", "world:defaultWorldStatus", {}))["worldId"]
        args = {"worldId": world_id}
        world_map = (await _call(http, "query", "world:gameDescriptions", args))["worldMap"]
        assert world_map["animatedSprites"] == []
        (x, y), dim = FOUNTAIN, world_map["tileDim"]
        basin = [world_map["objectTiles"][0][x + n % 2][y + n // 2] for n in range(4)]
        assert basin == list(FOUNTAIN_TILES)  # blocking, drawn from the tile set
        sprites = await _call(http, "query", "characters:animatedSprites", args)
        assert sprites == [
            {
                "x": x * dim,
                "y": y * dim,
                "w": 64.0,
                "h": 64.0,
                "layer": 1.0,
                "sheet": "/assets/fountain.json",
                "animation": "spray",
            }
        ]
        sheet = (await http.get(sprites[0]["sheet"])).json()
        assert sheet["animations"]["spray"] and sheet["meta"]["image"] == "fountain.png"
        assert (await _call(http, "query", "characters:animatedSprites", {"worldId": "no"})) == []


async def test_a_flood_of_anonymous_joins_is_held_back(tmp_path):
    """Pages that sign nobody in join as guests, one a socket session: a world takes 8 of
    them, and the calls one address floods in run into its rate limit."""
    from server.hostile import next_message, open_sync
    from smalltown.server.app import ServerSettings
    from smalltown.server.ratelimit import RateLimits
    from smalltown.town.world import MAX_GUESTS

    pages = 14
    limits = RateLimits(rate=0.001, burst=12)  # no token comes back during the test
    app = create_app(
        f"sqlite:///{tmp_path}/flood.db", "smalltown.town", ServerSettings(rate_limits=limits)
    )
    async with RunningServer(app) as server:
        world_id = (await app.state.store.read(lambda tx: tx.first("worldStatus")))["worldId"]
        sockets = [await open_sync(server.ws_url, f"page-{n}") for n in range(pages)]
        try:
            for n, ws in enumerate(sockets):
                join = {"type": "Mutation", "requestId": n, "udfPath": "world:joinWorld"}
                await ws.send(json.dumps({**join, "args": [{"worldId": world_id}]}))
            replies = [await next_message(ws, "MutationResponse") for ws in sockets]
        finally:
            for ws in sockets:
                await ws.close()
    joined = [r for r in replies if r["success"]]
    refused = [json.dumps(r) for r in replies if not r["success"]]
    full = [r for r in refused if "guests already" in r]
    limited = [r for r in refused if "rate limit" in r]
    assert len(joined) == MAX_GUESTS == 8
    assert len(limited) == pages - 12 and len(full) == 12 - MAX_GUESTS, replies


async def test_a_map_made_with_the_fountain_as_a_sprite_is_brought_up_to_date(tmp_path):
    """A database whose town was made when the fountain was a sprite AI Town's page cannot
    draw: the server starts it with the basin as tiles, and the water on ours."""
    from dataclasses import replace

    from smalltown.town.defaults import CHARACTERS, FOUNTAIN, FOUNTAIN_TILES, PAVING, town_map
    from smalltown.town.schema import open_town_store
    from smalltown.worlds.creation import create_world

    (x, y), before = FOUNTAIN, town_map()
    objects = [[list(column) for column in layer] for layer in before.object_tiles]
    for n in range(4):
        objects[0][x + n % 2][y + n // 2] = PAVING
    sprite = {"x": x * 32, "y": y * 32, "w": 64, "h": 64, "layer": 1}
    sprite |= {"sheet": "fountain.json", "animation": "spray"}
    old = replace(before, object_tiles=objects, animated_sprites=[sprite])
    url = f"sqlite:///{tmp_path}/old.db"
    store = await open_town_store(url)
    try:
        world_id = await create_world(store, old, CHARACTERS)
    finally:
        await store.close()
    async with (
        RunningServer(create_app(url, "smalltown.town")) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20) as http,
    ):
        args = {"worldId": world_id}
        world_map = (await _call(http, "query", "world:gameDescriptions", args))["worldMap"]
        assert world_map["animatedSprites"] == []
        basin = [world_map["objectTiles"][0][x + n % 2][y + n // 2] for n in range(4)]
        assert basin == list(FOUNTAIN_TILES)
        sprites = await _call(http, "query", "characters:animatedSprites", args)
        assert [(s["x"], s["y"], s["sheet"]) for s in sprites] == [
            (x * 32, y * 32, "/assets/fountain.json")
        ]
