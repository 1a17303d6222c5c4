"""``feed:*``: what a resident sees and hears, for a program that plays it from outside.

A program drives a resident with the functions and token a human player uses
(``world:joinWorld``, ``world:sendWorldInput``, ``messages:writeMessage``); this live query
is its senses. It answers only for the caller's own player (a token's or a session's: it
runs per caller), and it changes when something the resident would notice does: who is
near, an invitation, a line said to it, its turn.
"""

from __future__ import annotations

import math
from typing import Any

from smalltown.runtime import ConvexError, caller_query
from smalltown.worlds.inputs import check_owner
from smalltown.worlds.parts import world_document

#: how far a resident notices others, in tiles
SIGHT = 8.0
#: the latest lines of the resident's conversation that the feed carries
HEARD_LINES = 20


@caller_query
async def observe(ctx, worldId: str, playerId: str) -> dict[str, Any]:
    """The caller's player: where it stands, who is within sight, its conversation (with
    who is in it, its state and the latest lines) and the game time. Only the person who
    plays the player (or the admin) may ask."""
    status = await ctx.db.first("worldStatus", "worldId", eq={"worldId": worldId})
    if status is None:
        raise ConvexError(f"no world {worldId!r}")
    await check_owner(ctx.db, worldId, ctx.auth.identity, {"playerId": playerId})
    world = await world_document(ctx.db, worldId, ("players", "conversations"))
    me = next(p for p in world["players"] if p["id"] == playerId)
    names = {
        d["playerId"]: d["name"]
        for d in await ctx.db.query("playerDescriptions", "worldId", eq={"worldId": worldId})
    }
    engine = await ctx.db.get(status["engineId"], table="engines")
    here = me["position"]
    nearby = []
    for other in world["players"]:
        if other["id"] == playerId:
            continue
        distance = math.dist(
            (here["x"], here["y"]), (other["position"]["x"], other["position"]["y"])
        )
        if distance <= SIGHT:
            nearby.append(
                {
                    "playerId": other["id"],
                    "name": names.get(other["id"], other["id"]),
                    "human": bool(other.get("human")),
                    # rounded, so the feed changes when someone moves a tile, not every tick
                    "position": _tile(other["position"]),
                    "distance": float(round(distance)),
                }
            )
    nearby.sort(key=lambda n: (n["distance"], n["playerId"]))
    return {
        "time": engine.get("currentTime"),
        "me": {
            "playerId": playerId,
            "name": names.get(playerId, playerId),
            "position": _tile(here),
            "walking": bool((me.get("pathfinding") or {}).get("state")),
            "activity": (me.get("activity") or {}).get("description"),
        },
        "nearby": nearby,
        "conversation": await _conversation(ctx.db, worldId, world, playerId, names),
    }


def _tile(position: dict[str, float]) -> dict[str, float]:
    """The tile a position is on (numbers stay floats: Convex numbers, not Int64)."""
    return {"x": float(round(position["x"])), "y": float(round(position["y"]))}


async def _conversation(db, world_id: str, world: dict, player_id: str, names: dict) -> Any:
    for conversation in world.get("conversations", []):
        members = {p["playerId"]: p for p in conversation["participants"]}
        if player_id not in members:
            continue
        lines = await db.query(
            "messages",
            "conversationId",
            eq={"worldId": world_id, "conversationId": conversation["id"]},
        )
        typing = conversation.get("isTyping")
        return {
            "id": conversation["id"],
            "creator": conversation["creator"],
            "myStatus": members[player_id]["status"]["kind"],
            "participants": [
                {
                    "playerId": pid,
                    "name": names.get(pid, pid),
                    "status": member["status"]["kind"],
                }
                for pid, member in members.items()
            ],
            "typing": typing["playerId"] if typing else None,
            "lines": [
                {
                    "author": m["author"],
                    "name": names.get(m["author"], m["author"]),
                    "text": m["text"],
                }
                for m in lines[-HEARD_LINES:]
            ],
        }
    return None
