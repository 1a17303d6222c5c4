"""``agent/plan:*``: what a resident plans its day with (who it is, the town's places, the
game's time, today's plan so far), and each resident's plan for the details panel."""

from __future__ import annotations

import time
from typing import Any

from smalltown.engine.plans import current, day_of, minute_of
from smalltown.engine.state import Plan
from smalltown.engine.world_map import WorldMap
from smalltown.runtime import internal_query
from smalltown.town.places import places_for
from smalltown.worlds.parts import read_agent_of, read_entry, read_plan
from smalltown.worlds.people import person


async def game_time(db, world_id: str) -> float:
    status = await db.first("worldStatus", "worldId", eq={"worldId": world_id})
    engine = await db.get(status["engineId"], table="engines")
    return float(engine["currentTime"])


#: seconds a process keeps a world's places before reading its map again: a map of a
#: thousand residents' town is most of what a plan reads, and it changes only when a
#: checkout is imported over it (its new places then reach plans within the minute)
PLACES_KEPT_S = 60.0
_kept_places: dict[str, tuple[float, list[dict[str, Any]]]] = {}


async def _places(db, world_id: str) -> list[dict[str, Any]]:
    """The places of the world's map (``town/places.py``), as this process last read them."""
    kept = _kept_places.get(world_id)
    now = time.monotonic()
    if kept is not None and now - kept[0] < PLACES_KEPT_S:
        return kept[1]
    world_map = WorldMap.from_document(await db.first("maps", "worldId", eq={"worldId": world_id}))
    places = places_for(world_map)
    _kept_places[world_id] = (now, places)
    return places


def plan_view(doc: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
    """Today's plan as the panel shows it: each item's time, place and activity, its
    steps, which one is under way; None when there is none for today."""
    if doc is None:
        return None
    plan = Plan.from_doc(doc)
    if plan.day != day_of(now) or not plan.items:
        return None
    found = current(plan, now)
    return {
        "items": [
            {
                "time": f"{item.start // 60:02d}:{item.start % 60:02d}",
                "place": item.place,
                "activity": item.activity,
                **({"emoji": item.emoji} if item.emoji else {}),
                "steps": item.steps or [],
            }
            for item in plan.items
        ],
        "current": None if found is None else found[0],
        "replans": plan.replans,
    }


async def agent_plan(db, world_id: str, player_id: str) -> dict[str, Any] | None:
    agent = await read_agent_of(db, world_id, player_id)
    if agent is None:
        return None
    return plan_view(await read_plan(db, world_id, agent["id"]), await game_time(db, world_id))


@internal_query
async def planContext(ctx, worldId: str, agentId: str, reason: str) -> dict[str, Any]:
    db = ctx.db
    agent = await read_entry(db, worldId, "agents", agentId)
    if agent is None:
        return {"found": False}
    me = await person(db, worldId, agent["playerId"])
    now = await game_time(db, worldId)
    doc = await read_plan(db, worldId, agentId)
    plan = Plan.from_doc(doc) if doc is not None else None
    said = None
    if reason.startswith("invitation:"):
        inviter = reason.removeprefix("invitation:")
        named = (await person(db, worldId, inviter))["name"]
        other = "someone" if named == inviter else named  # (no description: no name)
        said = f"you accepted {other}'s invitation to talk"
    elif reason.startswith("news:"):
        said = f"you heard this: {reason.removeprefix('news:')}"
    return {
        "found": True,
        "me": me,
        "places": await _places(db, worldId),
        "minute": float(minute_of(now)),
        "plan": []
        if plan is None or plan.day != day_of(now)
        else [item.to_doc() for item in plan.items],
        "reason": said,
    }
