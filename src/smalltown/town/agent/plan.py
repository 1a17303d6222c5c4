"""``agent/plan:*``: what a resident plans its day with (who it is, the town's places, the
game's time, today's plan so far), and each resident's plan for the details panel."""

from __future__ import annotations

from typing import Any

from smalltown.engine.plans import current, day_of, minute_of
from smalltown.engine.state import Plan
from smalltown.engine.world_map import WorldMap
from smalltown.runtime import internal_query
from smalltown.town.places import places_for
from smalltown.worlds.parts import read_plans, world_document


async def _plans(db, world_id: str) -> dict[str, dict[str, Any]]:
    return {p["agentId"]: p for p in await read_plans(db, world_id)}


async def game_time(db, world_id: str) -> float:
    status = await db.first("worldStatus", "worldId", eq={"worldId": world_id})
    engine = await db.get(status["engineId"], table="engines")
    return float(engine["currentTime"])


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
    world = await world_document(db, world_id, ("agents",))
    agent = next((a for a in world["agents"] if a["playerId"] == player_id), None)
    if agent is None:
        return None
    plans = await _plans(db, world_id)
    return plan_view(plans.get(agent["id"]), await game_time(db, world_id))


@internal_query
async def planContext(ctx, worldId: str, agentId: str, reason: str) -> dict[str, Any]:
    db = ctx.db
    world = await world_document(db, worldId, ("agents",))
    agent = next((a for a in world["agents"] if a["id"] == agentId), None)
    if agent is None:
        return {"found": False}
    names = {
        d["playerId"]: d
        for d in await db.query("playerDescriptions", "worldId", eq={"worldId": worldId})
    }
    described = await db.first(
        "agentDescriptions", "worldId", eq={"worldId": worldId, "agentId": agentId}
    )
    me = names.get(agent["playerId"], {})
    world_map = WorldMap.from_document(await db.first("maps", "worldId", eq={"worldId": worldId}))
    now = await game_time(db, worldId)
    doc = (await _plans(db, worldId)).get(agentId)
    plan = Plan.from_doc(doc) if doc is not None else None
    said = None
    if reason.startswith("invitation:"):
        other = names.get(reason.removeprefix("invitation:"), {}).get("name", "someone")
        said = f"you accepted {other}'s invitation to talk"
    elif reason.startswith("news:"):
        said = f"you heard this: {reason.removeprefix('news:')}"
    return {
        "found": True,
        "me": {
            "name": me.get("name", agent["playerId"]),
            "description": me.get("description", ""),
            "identity": (described or {}).get("identity", ""),
            "plan": (described or {}).get("plan", ""),
        },
        "places": places_for(world_map),
        "minute": float(minute_of(now)),
        "plan": []
        if plan is None or plan.day != day_of(now)
        else [item.to_doc() for item in plan.items],
        "reason": said,
    }
