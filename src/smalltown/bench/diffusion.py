"""``smalltown eval diffusion``: does news travel? One resident is told of a party at a
place of the town and a time; the town then runs, fast, and at the end we count who knows
of it and who turned up.

After Generative Agents' party (there, one agent planned a party, and the others heard
of it through conversations and some came). Here the news starts as one memory of the
first resident, "<host> told me ...", important enough to be passed on (``news`` in
``town/agent/memory.py``); residents pass on what they heard in their first line of a
later talk, and remember where it came from. The world runs as the server runs it (a
real store, the durable scheduler, the world runner), its clock driven step by step as
fast as the agents' operations finish, so game time is not wall time.

The first told plans to go, as anyone does who hears of an event at a time and a place
(``engine/plans.py``). The game clock starts so that the party (at five in the afternoon)
begins three quarters of the way through the run. Who *knows*: residents with a memory
that mentions the party's keyword. Who *turned up*: those who knew and, when the run
ends, stand within ``ARRIVED_TILES`` of the place with the party as their plan's current
item (their plan took them there); a knower there without it in its plan is counted
apart, as chance.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smalltown.engine.constants import STEP_MS
from smalltown.engine.plans import DAY_MS, current, day_of
from smalltown.engine.state import Plan, PlanItem
from smalltown.engine.world_map import WorldMap
from smalltown.llm import LLM, Embedder
from smalltown.runtime import Registry, Runtime
from smalltown.runtime.context import SCHEDULED
from smalltown.runtime.scheduler import SchedulerWorker
from smalltown.store import Store, open_store
from smalltown.town.defaults import many_characters, town_map
from smalltown.town.places import places_for
from smalltown.town.schema import schema
from smalltown.worlds.creation import create_world
from smalltown.worlds.inputs import insert_input
from smalltown.worlds.memory_index import fit_memory_index
from smalltown.worlds.parts import read_plans, read_world
from smalltown.worlds.runner import WorldRunner

KEYWORD = "party"
PARTY_MINUTE = 17 * 60  # "at five this afternoon", in game time
PARTY_SHARE = 0.75  # the party begins this far through the run
ARRIVED_TILES = 4.0
SEED_IMPORTANCE = 8.0
CHECK_EVERY_STEPS = 30  # ``until`` is asked this often (half a game minute)


def event_of(place: str) -> str:
    """The news, naming the town's place as residents' plans know it."""
    where = "in" if any(w in place for w in ("middle", "corner")) else "at"
    return f"a party {where} {place} at five this afternoon; everyone is welcome"


@dataclass
class Diffusion:
    """What one run found (so far, when asked mid-run)."""

    residents: int
    knew: list[str]  # names, the first told first
    heard: dict[str, str]  # each knower's name → its first memory of the party
    residents_names: list[str]
    place: str  # where the party is
    turned_up: list[str]  # knowers there, their plan's current item the party
    by_chance: list[str]  # knowers there without the party in their plan
    planned: list[str]  # knowers whose plan has the party
    game_minutes: float
    lines: int
    conversations: int

    @property
    def share(self) -> float:
        return len(self.knew) / self.residents

    def lines_of_report(self) -> list[str]:
        return [
            f"residents: {self.residents}, game time: {self.game_minutes:.0f} min, "
            f"lines said: {self.lines}, conversations: {self.conversations}",
            f"knew of the party: {len(self.knew)} of {self.residents} "
            f"({self.share:.0%}): {', '.join(self.knew)}",
            f"planned to go: {len(self.planned)}"
            + (f": {', '.join(self.planned)}" if self.planned else ""),
            f"turned up: {len(self.turned_up)} at {self.place}, their plan took them there"
            + (f": {', '.join(self.turned_up)}" if self.turned_up else "")
            + (f"; there by chance: {', '.join(self.by_chance)}" if self.by_chance else ""),
            *(f"  {name} remembers: {memory}" for name, memory in self.heard.items()),
        ]


async def run_diffusion(
    llm: LLM,
    embedder: Embedder,
    *,
    residents: int = 5,
    game_minutes: float = 60.0,
    world_map: WorldMap | None = None,
    database: str | None = None,
    seed: int | None = None,
    party_in: float | None = None,
    until: Callable[[Diffusion], bool] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Diffusion:
    """Tell the first resident of the party, run the town ``game_minutes`` (or until
    ``until`` holds of what is found so far, asked every half game minute), count.
    ``seed`` fixes the world's randomness (else it is the world's own); the party begins
    ``party_in`` game minutes in (by default three quarters through the run)."""
    with tempfile.TemporaryDirectory() as scratch:
        store = await open_store(database or f"sqlite:///{Path(scratch) / 'diffusion.db'}")
        worker = None
        try:
            runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
            runtime.extensions["llm"] = llm
            runtime.extensions["embedder"] = embedder
            worker = SchedulerWorker(runtime, poll_seconds=0.02)
            await worker.start()
            await fit_memory_index(store, embedder)
            chosen_map = world_map or town_map()
            world_id = await create_world(store, chosen_map, many_characters(residents))
            if seed is not None:
                await store.run(lambda tx: _set_seed(tx, world_id, seed))
            status = await store.read(
                lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": world_id})
            )
            assert status is not None
            # Tomorrow, game time, so that the party begins party_in minutes in.
            lead = PARTY_SHARE * game_minutes if party_in is None else party_in
            starts = PARTY_MINUTE * 60_000 - lead * 60_000
            clock = [(status["lastViewed"] // DAY_MS + 1) * DAY_MS + starts - STEP_MS]
            town = _Driven(store, world_id, WorldRunner(runtime, clock=lambda: clock[0]), clock)
            await town.step()  # the residents arrive
            players = await town.names()
            ids = list(players)
            first, host = ids[0], ids[1 % len(ids)]
            party = places_for(chosen_map)[0]
            told = f"{players[host]} told me about {event_of(str(party['name']))}."
            (vector,) = await embedder.embed([told])
            agent = next(a["id"] for a in (await town.world())["agents"] if a["playerId"] == first)
            await store.run(lambda tx: _seed(tx, first, host, told, vector))
            await store.run(lambda tx: _plan_party(tx, status["engineId"], agent, party))
            steps = round(game_minutes * 60_000 / STEP_MS)
            found = await _found(town, players, party, 0)
            for n in range(steps):
                await town.step()
                if progress is not None and (n + 1) % 60 == 0:
                    progress(f"{(n + 1) * STEP_MS / 60_000:.0f} of {game_minutes:.0f} game min")
                if n + 1 == steps or (until is not None and (n + 1) % CHECK_EVERY_STEPS == 0):
                    found = await _found(town, players, party, n + 1)
                    if until is not None and until(found):
                        break
            return found
        finally:
            if worker is not None:
                await worker.close()
            await store.close()


async def _found(
    town: _Driven, players: dict[str, str], party: dict[str, Any], steps: int
) -> Diffusion:
    """Who knows of the party, with what they remember, and who is there, now."""
    store, ids = town.store, list(players)
    memories = await store.read(lambda tx: tx.query("memories"))
    memories.sort(key=lambda m: m["_creationTime"])
    heard: dict[str, str] = {}
    for m in memories:
        if KEYWORD in str(m["description"]).lower() and m["data"]["type"] != "reflection":
            heard.setdefault(m["playerId"], str(m["description"]))
    world = await town.world()
    now = town.clock[0]
    plans = await town.plans()
    agent_of = {a["playerId"]: a["id"] for a in world["agents"]}
    spot = (float(party["x"]), float(party["y"]))
    there = {
        p["id"]
        for p in world["players"]
        if math.dist((p["position"]["x"], p["position"]["y"]), spot) <= ARRIVED_TILES
    }
    planned, going = set(), set()
    for player_id, agent_id in agent_of.items():
        plan = plans.get(agent_id)
        if plan is None or plan.day != day_of(now):
            continue
        if any(_is_party(item, party) for item in plan.items):
            planned.add(player_id)
        under_way = current(plan, now)
        if under_way is not None and _is_party(under_way[1], party):
            going.add(player_id)
    messages = await store.read(lambda tx: tx.query("messages"))
    archived = await store.read(lambda tx: tx.query("archivedConversations"))
    knowing = [p for p in ids if p in heard]
    return Diffusion(
        residents=len(ids),
        knew=[players[p] for p in knowing],
        heard={players[p]: heard[p] for p in knowing},
        residents_names=[players[p] for p in ids],
        place=str(party["name"]),
        turned_up=[players[p] for p in knowing if p in there and p in going],
        by_chance=[players[p] for p in knowing if p in there and p not in going],
        planned=[players[p] for p in knowing if p in planned],
        game_minutes=steps * STEP_MS / 60_000,
        lines=len(messages),
        conversations=len(archived),
    )


def _is_party(item: PlanItem, party: dict[str, Any]) -> bool:
    return item.place == party["name"] and KEYWORD in item.activity.lower()


async def _set_seed(tx, world_id: str, seed: int) -> None:
    own = await tx.first("smalltownWorlds", "worldId", eq={"worldId": world_id})
    await tx.patch(own["_id"], {"seed": float(seed)})


async def _plan_party(tx, engine_id: str, agent_id: str, party: dict[str, Any]) -> None:
    """The first told plans on the party, as anyone who hears of it does (``plans.py``)."""
    item = {
        "start": float(PARTY_MINUTE),
        "place": party["name"],
        "x": party["x"],
        "y": party["y"],
        "activity": "at the party",
        "emoji": "🎉",
    }
    args = {"agentId": agent_id, "operationId": "told", "kind": "event", "item": item}
    await insert_input(tx, engine_id, "agentFinishPlan", args)


async def _seed(tx, player_id: str, host: str, told: str, vector: list[float]) -> None:
    embedding_id = await tx.insert("memoryEmbeddings", {"playerId": player_id, "embedding": vector})
    await tx.insert(
        "memories",
        {
            "playerId": player_id,
            "description": told,
            "embeddingId": embedding_id,
            "importance": SEED_IMPORTANCE,
            "lastAccess": 0.0,
            "data": {
                "type": "conversation",
                "conversationId": "told",
                "playerIds": [player_id, host],
            },
        },
    )


class _Driven:
    """A world stepped by hand: each step its game clock moves one step, and the step's
    agent operations finish before the next."""

    def __init__(
        self, store: Store, world_id: str, runner: WorldRunner, clock: list[float]
    ) -> None:
        self.store, self.world_id, self.runner, self.clock = store, world_id, runner, clock

    async def status(self) -> dict[str, Any]:
        found = await self.store.read(
            lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": self.world_id})
        )
        assert found is not None
        return found

    async def world(self) -> dict[str, Any]:
        found = await self.store.read(lambda tx: read_world(tx, self.world_id))
        assert found is not None
        return found

    async def plans(self) -> dict[str, Plan]:
        """Each resident's plan, by agent id."""
        plans = await self.store.read(lambda tx: read_plans(tx, self.world_id))
        return {p["agentId"]: Plan.from_doc(p) for p in plans}

    async def names(self) -> dict[str, str]:
        """Residents' player ids → names, in the order they came."""
        world = await self.world()
        rows = await self.store.read(lambda tx: tx.query("playerDescriptions"))
        named = {r["playerId"]: r["name"] for r in rows}
        return {a["playerId"]: named.get(a["playerId"], a["playerId"]) for a in world["agents"]}

    async def step(self) -> None:
        status = await self.status()
        self.clock[0] += STEP_MS
        await self.store.run(lambda tx: tx.patch(status["_id"], {"lastViewed": self.clock[0]}))
        await self.runner.step_world(self.world_id)
        while not await self.store.read(_idle):
            await asyncio.sleep(0.01)  # the step's operations run in the scheduler


async def _idle(tx) -> bool:
    for kind in ("pending", "inProgress"):
        if await tx.first(SCHEDULED, "by_state_time", eq={"state.kind": kind}) is not None:
            return False
    return True
