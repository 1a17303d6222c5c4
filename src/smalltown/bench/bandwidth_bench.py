"""``smalltown bench bandwidth``: what a page viewing a busy world downloads per second.

The page follows a world of up to 50 players player by player (the roster, one view per
player, the conversations, the clock); a larger one by what it shows: zoomed in, the
16-tile cells of the map around a view of 40 x 23 tiles (a 1280 x 720 page at zoom 1),
plus the roster and the clock; zoomed out, everyone's place fetched every 2 s. Worlds of
up to 100 agents live on the default map, larger ones on an open map sized to the crowd
(as ``bench engine``'s).

- *simulated*: the engine steps such a world for some minutes (operations answered at
  once, as in ``bench engine``); each step, the whole ``worlds`` document (what a page
  subscribed to it receives) is compared with what the page's queries send: the roster,
  the clock, and each player's view and the conversations when they changed, or each
  followed cell's region when it changed; zoomed out, the overview every 2 s.
  Deterministic, so the tests hold it to the goal.
- *on the wire*: a real server in a child process with such a world, a WebSocket client
  subscribed the way the page is (worlds list, roster, clock, descriptions; each player's
  view and the conversations, or the cells' regions; the lines of each conversation
  followed), one the way it is zoomed out
  (the same without cells and lines, the overview fetched over HTTP every 2 s), and, up to
  100 agents, one subscribed to the whole world state; each counts the bytes it receives.
- *in a browser*: when Playwright and Chromium are installed, the page itself, zoomed in
  and zoomed out to the whole map, and its ``requestAnimationFrame`` rate.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from smalltown.bench.engine_bench import answers, crowd_map
from smalltown.engine.engine import Input, step
from smalltown.engine.state import World
from smalltown.engine.world_map import EMPTY, WorldMap
from smalltown.runtime import wire
from smalltown.town.defaults import TREE, town_map
from smalltown.worlds.region import overview, region_view
from smalltown.worlds.view import conversations_view, player_view, roster_view

GOAL = 0.5  # of the whole document's bytes
ZOOMED_IN_GOAL = 10_000  # bytes a second, a viewer zoomed to a neighbourhood of a large town
FRAME_RATE_GOAL = 30.0  # frames a second, zoomed out over a large town
CELL = 16  # tiles, as the page's viewport.js
AHEAD = 0  # the page follows the cells its view covers
VIEW = (40.0, 23.0)  # tiles a 1280 x 720 page shows at zoom 1
OVERVIEW_S = 2.0
HTTP_BYTES = 180  # an HTTP/1.1 response's status line and headers, about
LARGE = 100  # more agents than this: an open map sized to the crowd
FEW_PLAYERS = 50  # as the page's viewport.js: up to this many, followed player by player


def bench_map(agents: int) -> WorldMap:
    """The default town up to ``LARGE`` agents; beyond, open ground sized to the crowd,
    drawn with the town's tiles."""
    if agents <= LARGE:
        return town_map()
    crowd = crowd_map(agents)
    objects = [[TREE if t != EMPTY else EMPTY for t in column] for column in crowd.object_tiles[0]]
    return WorldMap(
        crowd.width,
        crowd.height,
        32,
        "/assets/town-tiles.png",
        256,
        96,
        crowd.bg_tiles,
        [objects],
    )


def view_cells(world_map: WorldMap) -> list[tuple[float, float, float, float]]:
    """The page's cells around a view of ``VIEW`` tiles in the middle of the map."""
    width, height = VIEW
    x, y = (world_map.width - width) / 2, (world_map.height - height) / 2
    x0, y0 = max(0, math.floor((x - AHEAD) / CELL)), max(0, math.floor((y - AHEAD) / CELL))
    x1 = min(math.ceil(world_map.width / CELL), math.ceil((x + width + AHEAD) / CELL))
    y1 = min(math.ceil(world_map.height / CELL), math.ceil((y + height + AHEAD) / CELL))
    return [
        (float(cx * CELL), float(cy * CELL), float(CELL), float(CELL))
        for cx in range(x0, x1)
        for cy in range(y0, y1)
    ]


def _size(value: Any) -> int:
    return len(wire.dumps(wire.encode(value)))  # bytes as the wire sends them


#: what the sync protocol wraps around one query's new value, and around one Transition
UPDATE_BYTES = len('{"type":"QueryUpdated","queryId":12,"value":,"logLines":[],"journal":null}')
TRANSITION_BYTES = len(
    '{"type":"Transition","startVersion":{"querySet":9,"identity":0,"ts":"AAAAAAAAAAA="},'
    '"endVersion":{"querySet":9,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[]}'
)


def simulate(agents: int = 25, minutes: float = 5.0, seed: int = 7) -> dict[str, float]:
    """Bytes per simulated second: the whole world document each step vs the page's
    queries, with the protocol's wrapping: player by player (roster, conversations, each
    player's view when it changed, clock), or zoomed in (roster, each cell around the view
    when it changed, clock) and zoomed out (roster, clock, the overview every 2 s). The
    page's figure is the first up to ``FEW_PLAYERS`` agents, the second beyond."""
    world, world_map = World(), bench_map(agents)
    cells = view_cells(world_map)
    now, number, step_number = 1_000_000.0, 0, 0
    creates = [Input(i + 1, "createAgent", {}) for i in range(agents)]
    number = agents
    while creates:
        batch, creates = creates[:32], creates[32:]
        step(world, world_map, batch, now, seed=seed, step_number=step_number, duration=0)
        step_number += 1
    pending: list[Input] = []
    whole = viewed = zoomed_out = updates = per_player = 0
    last_roster: dict | None = None
    last_conversations: list | None = None
    last_players: dict[str, dict] = {}
    last_cells: list[dict | None] = [None] * len(cells)
    steps = int(minutes * 60)
    for n in range(steps):
        out = step(world, world_map, pending, now, seed=seed, step_number=step_number)
        now, step_number = out.end_time, step_number + 1
        pending, number = answers(out.operations, number)
        doc = world.to_document()
        whole += TRANSITION_BYTES + UPDATE_BYTES + _size(doc)
        common = [_size({"currentTime": now})]
        roster = roster_view(doc)
        if roster != last_roster:
            common.append(_size(roster))
            last_roster = roster
        changed = []
        for i, rect in enumerate(cells):
            value = region_view(doc, rect)
            if value != last_cells[i]:
                changed.append(_size(value))
                last_cells[i] = value
        viewed += TRANSITION_BYTES + sum(UPDATE_BYTES + size for size in common + changed)
        one_by_one = []
        conversations = conversations_view(doc)
        if conversations != last_conversations:
            one_by_one.append(_size(conversations))
            last_conversations = conversations
        for player in doc["players"]:
            view = player_view(player)
            if view != last_players.get(player["id"]):
                one_by_one.append(_size(view))
                last_players[player["id"]] = view
        per_player += TRANSITION_BYTES + sum(UPDATE_BYTES + size for size in common + one_by_one)
        zoomed_out += TRANSITION_BYTES + sum(UPDATE_BYTES + size for size in common)
        if n % int(OVERVIEW_S) == 0:
            zoomed_out += HTTP_BYTES + _size({"status": "success", "value": overview(doc, now)})
        updates += len(changed)
    seconds = steps * 1.0
    page = per_player if agents <= FEW_PLAYERS else viewed
    return {
        "agents": agents,
        "cells": len(cells),
        "whole_bytes_per_s": whole / seconds,
        "page_bytes_per_s": page / seconds,
        "per_player_bytes_per_s": per_player / seconds,
        "cells_bytes_per_s": viewed / seconds,
        "overview_bytes_per_s": zoomed_out / seconds,
        "ratio": page / whole,
        "updates_per_step": updates / steps,
    }


# --- On the wire -------------------------------------------------------------------------


def _connect_message() -> str:
    return json.dumps(
        {
            "type": "Connect",
            "sessionId": os.urandom(8).hex(),
            "connectionCount": 0,
            "lastCloseReason": None,
            "clientTs": 0,
        }
    )


class _Viewer:
    """A WebSocket client that keeps a query set and counts every byte it receives."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.bytes = 0
        self.frames = 0
        self.version = 0
        self.next_id = 0
        self.by_id: dict[int, tuple[str, dict]] = {}
        self.values: dict[int, Any] = {}
        self.by_path: dict[str, int] = {}  # bytes of query values, by function
        self.clock: int | None = None  # the world:worldClock query's id, if followed

    async def open(self) -> None:
        import websockets

        self.ws = await websockets.connect(self.url, max_size=None, open_timeout=60)
        await self.ws.send(_connect_message())

    async def add(self, path: str, args: dict) -> int:
        query_id = self.next_id
        self.next_id += 1
        self.by_id[query_id] = (path, args)
        await self._modify([{"type": "Add", "queryId": query_id, "udfPath": path, "args": [args]}])
        return query_id

    async def remove(self, query_id: int) -> None:
        self.by_id.pop(query_id, None)
        self.values.pop(query_id, None)
        await self._modify([{"type": "Remove", "queryId": query_id}])

    async def _modify(self, modifications: list[dict]) -> None:
        message = {
            "type": "ModifyQuerySet",
            "baseVersion": self.version,
            "newVersion": self.version + 1,
            "modifications": modifications,
        }
        self.version += 1
        await self.ws.send(json.dumps(message))

    async def receive(self) -> list[int]:
        """The next frame, counted; the ids of queries whose value it updated."""
        text = await self.ws.recv()
        self.bytes += len(text.encode() if isinstance(text, str) else text)
        self.frames += 1
        message = json.loads(text)
        updated = []
        if message.get("type") == "Transition":
            for mod in message["modifications"]:
                if mod["type"] == "QueryUpdated":
                    self.values[mod["queryId"]] = mod["value"]
                    updated.append(mod["queryId"])
                    path = self.by_id.get(mod["queryId"], ("(removed)",))[0]
                    size = len(json.dumps(mod, separators=(",", ":")))
                    self.by_path[path] = self.by_path.get(path, 0) + size
        return updated


async def _watch_player_by_player(viewer: _Viewer, world_id: str, until: float) -> None:
    """The page in a world of few players: the roster, one view per player, the
    conversations, the clock, the descriptions, and the lines of each live conversation."""
    await viewer.add("world:listWorlds", {})
    roster = await viewer.add("world:worldRoster", {"worldId": world_id})
    talks = await viewer.add("world:worldConversations", {"worldId": world_id})
    viewer.clock = await viewer.add("world:worldClock", {"worldId": world_id})
    await viewer.add("world:gameDescriptions", {"worldId": world_id})
    players: dict[str, int] = {}
    conversations: dict[str, int] = {}

    async def follow(ids: set[str], following: dict[str, int], path: str, key: str) -> None:
        for gone in following.keys() - ids:
            await viewer.remove(following.pop(gone))
        for new in ids - following.keys():
            following[new] = await viewer.add(path, {"worldId": world_id, key: new})

    while time.monotonic() < until:
        try:
            updated = await asyncio.wait_for(viewer.receive(), until - time.monotonic())
        except TimeoutError:
            break
        if roster in updated and viewer.values[roster]:
            value = viewer.values[roster]
            ids = {p["id"] for p in value["players"]}
            await follow(ids, players, "world:playerView", "playerId")
        if talks in updated and viewer.values[talks] is not None:
            await follow(
                {c["id"] for c in viewer.values[talks]},
                conversations,
                "messages:conversationLines",
                "conversationId",
            )


async def _watch_like_the_page(
    viewer: _Viewer, world_id: str, until: float, cells: list[tuple[float, ...]]
) -> None:
    """The page zoomed in on a larger world: the worlds list, roster, clock and
    descriptions, one region per cell around its view, and the lines of each conversation
    in them."""
    await viewer.add("world:listWorlds", {})
    await viewer.add("world:worldRoster", {"worldId": world_id})
    viewer.clock = await viewer.add("world:worldClock", {"worldId": world_id})
    await viewer.add("world:gameDescriptions", {"worldId": world_id})
    regions = set()
    for x, y, width, height in cells:
        rect = {"x": x, "y": y, "width": width, "height": height}
        regions.add(await viewer.add("viewport:region", {"worldId": world_id, **rect}))
    conversations: dict[str, int] = {}
    while time.monotonic() < until:
        try:
            updated = await asyncio.wait_for(viewer.receive(), until - time.monotonic())
        except TimeoutError:
            break
        if not regions & set(updated):
            continue
        live = {
            c["id"] for q in regions for c in (viewer.values.get(q) or {}).get("conversations", [])
        }
        for gone in conversations.keys() - live:
            await viewer.remove(conversations.pop(gone))
        for new in live - conversations.keys():
            conversations[new] = await viewer.add(
                "messages:conversationLines", {"worldId": world_id, "conversationId": new}
            )


async def _watch_zoomed_out(viewer: _Viewer, http_url: str, world_id: str, until: float) -> None:
    """The page zoomed out: the worlds list, roster, clock and descriptions, and the
    overview fetched over HTTP every 2 s (its bytes counted with the socket's)."""
    import httpx

    await viewer.add("world:listWorlds", {})
    await viewer.add("world:worldRoster", {"worldId": world_id})
    await viewer.add("world:worldClock", {"worldId": world_id})
    await viewer.add("world:gameDescriptions", {"worldId": world_id})

    async def listen() -> None:
        while time.monotonic() < until:
            try:
                await asyncio.wait_for(viewer.receive(), until - time.monotonic())
            except TimeoutError:
                break

    async def fetch() -> None:
        body = {"path": "viewport:overview", "args": {"worldId": world_id}, "format": "json"}
        async with httpx.AsyncClient(base_url=http_url, timeout=30) as http:
            while time.monotonic() < until:
                response = await http.post("/api/query", json=body)
                size = HTTP_BYTES + len(response.content)
                viewer.bytes += size
                viewer.by_path["viewport:overview"] = (
                    viewer.by_path.get("viewport:overview", 0) + size
                )
                await asyncio.sleep(OVERVIEW_S)  # the page's own interval: a rate, not a wait

    await asyncio.gather(listen(), fetch())


async def _watch_whole(viewer: _Viewer, world_id: str, until: float) -> None:
    await viewer.add("world:worldState", {"worldId": world_id})
    while time.monotonic() < until:
        try:
            await asyncio.wait_for(viewer.receive(), until - time.monotonic())
        except TimeoutError:
            break


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _prepare(database_url: str, agents: int) -> str:
    from smalltown.town.defaults import many_characters
    from smalltown.town.schema import open_town_store
    from smalltown.worlds.creation import create_world

    store = await open_town_store(database_url)
    try:
        return await create_world(store, bench_map(agents), many_characters(agents), default=True)
    finally:
        await store.close()


class WireRates(TypedDict):
    """What each viewer received a second, measured on a socket (and HTTP, zoomed out)."""

    page_bytes_per_s: float  # zoomed in
    page_frames_per_s: float
    game_seconds_per_s: float  # how fast the server stepped the world
    overview_bytes_per_s: float  # zoomed out
    whole_bytes_per_s: NotRequired[float]
    whole_frames_per_s: NotRequired[float]
    ratio: NotRequired[float]  # the page's bytes over the whole state's
    page_by_function: dict[str, float]  # the page's bytes a second, by query path
    overview_by_function: dict[str, float]


class BrowserRates(TypedDict):
    """The page in headless Chromium: frames a second and people drawn, in and out."""

    zoomed_in_fps: float
    zoomed_in_drawn: int
    zoomed_out_fps: float
    zoomed_out_drawn: int


class Results(TypedDict):
    simulated: dict[str, float]
    wire: NotRequired[WireRates]
    browser: NotRequired[BrowserRates | str]


async def _measure(
    url: str,
    http_url: str,
    world_id: str,
    seconds: float,
    warmup: float,
    cells,
    whole_too: bool,
    few: bool,
) -> WireRates:
    page, out = _Viewer(url), _Viewer(url)
    whole = _Viewer(url) if whole_too else None
    viewers = [v for v in (page, out, whole) if v is not None]
    for viewer in viewers:
        await viewer.open()
    until = time.monotonic() + warmup + seconds
    tasks = [
        asyncio.create_task(
            _watch_player_by_player(page, world_id, until)
            if few
            else _watch_like_the_page(page, world_id, until, cells)
        ),
        asyncio.create_task(_watch_zoomed_out(out, http_url, world_id, until)),
    ]
    if whole is not None:
        tasks.append(asyncio.create_task(_watch_whole(whole, world_id, until)))
    await asyncio.sleep(warmup)  # the first values (map, descriptions) are not the rate
    base = {id(v): (v.bytes, v.frames) for v in viewers}
    game_start = _game_time(page)
    for viewer in viewers:
        viewer.by_path.clear()
    await asyncio.gather(*tasks)
    for viewer in viewers:
        await viewer.ws.close()

    def rate(viewer: _Viewer) -> tuple[float, float]:
        b, f = base[id(viewer)]
        return (viewer.bytes - b) / seconds, (viewer.frames - f) / seconds

    page_bytes, page_frames = rate(page)
    rates: WireRates = {
        "page_bytes_per_s": page_bytes,
        "page_frames_per_s": page_frames,
        "game_seconds_per_s": (_game_time(page) - game_start) / 1000 / seconds,
        "overview_bytes_per_s": rate(out)[0],
        "page_by_function": {k: v / seconds for k, v in sorted(page.by_path.items())},
        "overview_by_function": {k: v / seconds for k, v in sorted(out.by_path.items())},
    }
    if whole is not None:
        whole_bytes, whole_frames = rate(whole)
        rates["whole_bytes_per_s"] = whole_bytes
        rates["whole_frames_per_s"] = whole_frames
        rates["ratio"] = page_bytes / whole_bytes if whole_bytes else float("nan")
    return rates


def _game_time(viewer: _Viewer) -> float:
    """The game time (ms) of the last clock value the viewer heard; 0 before one came."""
    value = viewer.values.get(viewer.clock) if viewer.clock is not None else None
    if not value:
        return 0.0
    time_ = value["currentTime"]
    if isinstance(time_, dict):  # a Convex-encoded number: base64 of its 8 bytes
        import base64
        import struct

        raw = base64.b64decode(time_.get("$float") or time_["$integer"])
        return float(struct.unpack("<d" if "$float" in time_ else "<q", raw)[0])
    return float(time_)


async def _everyone_in(http_url: str, world_id: str, agents: int, timeout: float = 600) -> None:
    """Wait until every agent has arrived (a big world takes a while to create its crowd)."""
    import httpx

    body = {"path": "world:worldRoster", "args": {"worldId": world_id}, "format": "json"}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=http_url, timeout=30) as http:
        while time.monotonic() < deadline:
            value = (await http.post("/api/query", json=body)).json().get("value") or {}
            if len(value.get("players", [])) >= agents:
                return
            await asyncio.sleep(1)
    raise RuntimeError(f"the world did not reach {agents} agents in {timeout:.0f} s")


async def _browser_rates(http_url: str, world_id: str, agents: int) -> BrowserRates | str:
    """The page's frame rate in headless Chromium, zoomed in (zoom 1) and zoomed out (the
    whole map); a sentence instead when Playwright or Chromium is missing."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return "Playwright is not installed (a dev dependency): no frame rate"
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        return f"no Chromium at {chromium}: no frame rate"
    count = """() => new Promise((done) => {
        let frames = 0;
        const start = performance.now();
        const tick = () => {
            frames += 1;
            if (performance.now() - start < 5000) requestAnimationFrame(tick);
            else done(frames * 1000 / (performance.now() - start));
        };
        requestAnimationFrame(tick);
    })"""
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1024})
            await page.goto(f"{http_url}/?world={world_id}")
            await page.wait_for_function("window.smalltown && window.smalltown.map", timeout=60_000)
            await page.evaluate(
                """() => { const c = window.smalltown.camera; c.scale = 1;
                           const v = c.viewSize(); const m = window.smalltown.map;
                           c.centerOn(m.width * 16, m.height * 16); }"""
            )
            await page.wait_for_function("window.smalltown.drawnPlayers > 0", timeout=60_000)
            zoomed_in_fps = await page.evaluate(count)
            zoomed_in_drawn = await page.evaluate("window.smalltown.drawnPlayers")
            await page.evaluate(
                """() => { const c = window.smalltown.camera; const m = window.smalltown.map;
                           c.scale = Math.min(c.viewSize().width / (m.width * 32),
                                              c.viewSize().height / (m.height * 32));
                           c.centerOn(m.width * 16, m.height * 16); }"""
            )
            # (a map of at most 64 x 64 tiles is still followed cell by cell)
            await page.wait_for_function(
                f"window.smalltown.drawnPlayers >= {agents}", timeout=60_000
            )
            zoomed_out_fps = await page.evaluate(count)
            zoomed_out_drawn = await page.evaluate("window.smalltown.drawnPlayers")
        except Exception as exc:  # a bench reports what it could not measure, and goes on
            return f"the browser run failed: {exc}"
        finally:
            await browser.close()
    return {
        "zoomed_in_fps": zoomed_in_fps,
        "zoomed_in_drawn": zoomed_in_drawn,
        "zoomed_out_fps": zoomed_out_fps,
        "zoomed_out_drawn": zoomed_out_drawn,
    }


def on_the_wire(
    agents: int = 25, seconds: float = 60.0, warmup: float = 65.0, browser: bool = True
) -> tuple[WireRates, BrowserRates | str | None]:
    """Residents spend their first minute at a chore, standing still, so the count starts
    after ``warmup`` seconds, when the town is walking and talking. Then, with ``browser``,
    the page's frame rate in headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="smalltown-bandwidth-") as folder:
        database_url = f"sqlite:///{Path(folder) / 'town.db'}"
        world_id = asyncio.run(_prepare(database_url, agents))
        port = _free_port()
        env = {
            **os.environ,
            "SMALLTOWN_DATABASE_URL": database_url,
            "SMALLTOWN_PORT": str(port),
            "SMALLTOWN_TIME_SCALE": "1",
        }
        for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
            env.pop(name, None)  # the offline brain: the bytes should not wait on an LLM
        server = subprocess.Popen(
            [sys.executable, "-m", "smalltown", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_health(port, server)
            http_url = f"http://127.0.0.1:{port}"
            url = f"ws://127.0.0.1:{port}/api/sync"
            cells = view_cells(bench_map(agents))
            asyncio.run(_everyone_in(http_url, world_id, agents))
            wire = asyncio.run(
                _measure(
                    url,
                    http_url,
                    world_id,
                    seconds,
                    warmup,
                    cells,
                    agents <= LARGE,
                    agents <= FEW_PLAYERS,
                )
            )
            frames = asyncio.run(_browser_rates(http_url, world_id, agents)) if browser else None
            return wire, frames
        finally:
            server.terminate()
            server.wait(20)


def _wait_for_health(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited while starting")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /health in {timeout:.0f} s")


def run(
    agents: int = 25,
    minutes: float = 5.0,
    seconds: float = 60.0,
    wire: bool = True,
    browser: bool = True,
    out: Callable[[str], None] = print,
) -> Results:
    results: Results = {"simulated": simulate(agents, minutes)}
    s = results["simulated"]
    out(
        f"simulated, {agents} agents, {minutes:g} min: whole document "
        f"{s['whole_bytes_per_s'] / 1000:.1f} KB/s; the page "
        f"{s['page_bytes_per_s'] / 1000:.2f} KB/s = {s['ratio']:.1%} (goal <= {GOAL:.0%}"
        f"{', <= 10 KB/s' if agents > LARGE else ''}), "
        f"{'player by player' if agents <= FEW_PLAYERS else 'zoomed in'}; player by player "
        f"{s['per_player_bytes_per_s'] / 1000:.2f} KB/s, zoomed in ({s['cells']:.0f} cells) "
        f"{s['cells_bytes_per_s'] / 1000:.2f} KB/s ({s['updates_per_step']:.1f} cells sent a "
        f"step), zoomed out {s['overview_bytes_per_s'] / 1000:.2f} KB/s"
    )
    if wire:
        out(f"on the wire: a server with {agents} agents, 65 s to settle, {seconds:g} s counted…")
        w, frames = on_the_wire(agents, seconds, browser=browser)
        results["wire"] = w
        whole = (
            f"whole world state {w['whole_bytes_per_s'] / 1000:.1f} KB/s "
            f"({w['whole_frames_per_s']:.1f} frames/s); "
            if "whole_bytes_per_s" in w
            else ""
        )
        ratio = f" = {w['ratio']:.0%} of the whole" if "ratio" in w else ""
        out(
            f"on the wire, {agents} agents, {seconds:g} s: {whole}page "
            f"{'player by player' if agents <= FEW_PLAYERS else 'zoomed in'} "
            f"{w['page_bytes_per_s'] / 1000:.2f} KB/s ({w['page_frames_per_s']:.1f} frames/s)"
            f"{ratio}; zoomed out {w['overview_bytes_per_s'] / 1000:.2f} KB/s; the server "
            f"stepped {w['game_seconds_per_s']:.2f} game seconds a second"
        )
        for name, key in (
            ("the page", "page_by_function"),
            ("zoomed out", "overview_by_function"),
        ):
            parts = ", ".join(f"{path} {rate / 1000:.2f}" for path, rate in w[key].items())  # type: ignore[literal-required]
            out(f"  {name}, KB/s by query (the rest is Transition framing): {parts}")
        if frames is not None:
            results["browser"] = frames
            if isinstance(frames, str):
                out(f"in a browser: {frames}")
            else:
                out(
                    f"in headless Chromium (1280 x 1024): zoomed in {frames['zoomed_in_fps']:.0f} "
                    f"frames/s ({frames['zoomed_in_drawn']} people drawn), zoomed out to the "
                    f"whole map {frames['zoomed_out_fps']:.0f} frames/s "
                    f"({frames['zoomed_out_drawn']} drawn; goal >= {FRAME_RATE_GOAL:.0f})"
                )
    return results
