"""``smalltown bench bandwidth``: what a page viewing a busy world downloads per second.

Two measurements:

- *simulated*: the engine steps a world of N agents on the default map for some minutes
  (operations answered at once, as in ``bench engine``); each step, the whole ``worlds``
  document (what a page subscribed to it receives) is compared with what the page's
  queries send: the roster and each player's view when they changed, and the clock.
  Deterministic, so the tests hold it to the goal.
- *on the wire*: a real server in a child process with such a world, one WebSocket client
  subscribed the way the page is (worlds list, roster, one view per player, clock,
  descriptions, and the lines of each live conversation) and one subscribed to the whole
  world state; both count the bytes of every frame they receive.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from smalltown.bench.engine_bench import _answers
from smalltown.engine.engine import Input, step
from smalltown.engine.state import World
from smalltown.runtime import wire
from smalltown.town.defaults import town_map
from smalltown.worlds.view import conversations_view, player_view, roster_view

GOAL = 0.5  # of the whole document's bytes


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
    queries (roster, one view per player, clock), each with the protocol's wrapping."""
    world, world_map = World(), town_map()
    now, number, step_number = 1_000_000.0, 0, 0
    creates = [Input(i + 1, "createAgent", {}) for i in range(agents)]
    number = agents
    while creates:
        batch, creates = creates[:32], creates[32:]
        step(world, world_map, batch, now, seed=seed, step_number=step_number, duration=0)
        step_number += 1
    pending: list[Input] = []
    whole = viewed = updates = 0
    last_roster: dict | None = None
    last_conversations: list | None = None
    last_players: dict[str, dict] = {}
    steps = int(minutes * 60)
    for _ in range(steps):
        out = step(world, world_map, pending, now, seed=seed, step_number=step_number)
        now, step_number = out.end_time, step_number + 1
        pending, number = _answers(out.operations, number)
        doc = world.to_document()
        whole += TRANSITION_BYTES + UPDATE_BYTES + _size(doc)
        changed = [_size({"currentTime": now})]
        roster = roster_view(doc)
        if roster != last_roster:
            changed.append(_size(roster))
            last_roster = roster
        conversations = conversations_view(doc)
        if conversations != last_conversations:
            changed.append(_size(conversations))
            last_conversations = conversations
        for player in doc["players"]:
            view = player_view(player)
            if view != last_players.get(player["id"]):
                changed.append(_size(view))
                last_players[player["id"]] = view
        viewed += TRANSITION_BYTES + sum(UPDATE_BYTES + size for size in changed)
        updates += len(changed) - 1
    seconds = steps * 1.0
    return {
        "agents": agents,
        "whole_bytes_per_s": whole / seconds,
        "page_bytes_per_s": viewed / seconds,
        "ratio": viewed / whole,
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


async def _watch_like_the_page(viewer: _Viewer, world_id: str, until: float) -> None:
    """The page's subscriptions: the roster, one view per player, the conversations, the
    clock, the descriptions, and the lines of each live conversation."""
    await viewer.add("world:listWorlds", {})
    roster = await viewer.add("world:worldRoster", {"worldId": world_id})
    talks = await viewer.add("world:worldConversations", {"worldId": world_id})
    await viewer.add("world:worldClock", {"worldId": world_id})
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
        return await create_world(store, town_map(), many_characters(agents), default=True)
    finally:
        await store.close()


class WireRates(TypedDict):
    """What a page and a whole-state subscriber received a second, measured on a socket."""

    page_bytes_per_s: float
    page_frames_per_s: float
    whole_bytes_per_s: float
    whole_frames_per_s: float
    ratio: float  # the page's bytes over the whole state's
    page_by_function: dict[str, float]  # the page's bytes a second, by query path


class Results(TypedDict):
    simulated: dict[str, float]
    wire: NotRequired[WireRates]


async def _measure(url: str, world_id: str, seconds: float, warmup: float) -> WireRates:
    page, whole = _Viewer(url), _Viewer(url)
    await page.open()
    await whole.open()
    until = time.monotonic() + warmup + seconds
    tasks = [
        asyncio.create_task(_watch_like_the_page(page, world_id, until)),
        asyncio.create_task(_watch_whole(whole, world_id, until)),
    ]
    await asyncio.sleep(warmup)  # the first values (map, descriptions) are not the rate
    base = (page.bytes, page.frames, whole.bytes, whole.frames)
    page.by_path.clear()
    await asyncio.gather(*tasks)
    await page.ws.close()
    await whole.ws.close()
    page_bytes, whole_bytes = page.bytes - base[0], whole.bytes - base[2]
    return {
        "page_bytes_per_s": page_bytes / seconds,
        "page_frames_per_s": (page.frames - base[1]) / seconds,
        "whole_bytes_per_s": whole_bytes / seconds,
        "whole_frames_per_s": (whole.frames - base[3]) / seconds,
        "ratio": page_bytes / whole_bytes if whole_bytes else float("nan"),
        "page_by_function": {k: v / seconds for k, v in sorted(page.by_path.items())},
    }


def on_the_wire(agents: int = 25, seconds: float = 60.0, warmup: float = 65.0) -> WireRates:
    """Residents spend their first minute at a chore, standing still, so the count starts
    after ``warmup`` seconds, when the town is walking and talking."""
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
            url = f"ws://127.0.0.1:{port}/api/sync"
            return asyncio.run(_measure(url, world_id, seconds, warmup))
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
    out: Callable[[str], None] = print,
) -> Results:
    results: Results = {"simulated": simulate(agents, minutes)}
    s = results["simulated"]
    out(
        f"simulated, {agents} agents, {minutes:g} min: whole document "
        f"{s['whole_bytes_per_s'] / 1000:.1f} KB/s, page {s['page_bytes_per_s'] / 1000:.1f} KB/s "
        f"= {s['ratio']:.0%} (goal <= {GOAL:.0%}); {s['updates_per_step']:.1f} values "
        f"(players, roster, conversations) sent a step"
    )
    if wire:
        out(f"on the wire: a server with {agents} agents, 65 s to settle, {seconds:g} s counted…")
        w = results["wire"] = on_the_wire(agents, seconds)
        out(
            f"on the wire, {agents} agents, {seconds:g} s: whole world state "
            f"{w['whole_bytes_per_s'] / 1000:.1f} KB/s ({w['whole_frames_per_s']:.1f} frames/s), "
            f"page {w['page_bytes_per_s'] / 1000:.1f} KB/s ({w['page_frames_per_s']:.1f} "
            f"frames/s) = {w['ratio']:.0%} (goal <= {GOAL:.0%})"
        )
        parts = ", ".join(
            f"{path} {rate / 1000:.2f}" for path, rate in w["page_by_function"].items()
        )
        out(f"  the page's KB/s by query (the rest is Transition framing): {parts}")
    return results
