"""What a viewer needs of a world, shaped so it changes only when something visible does.

The ``worlds`` document changes every step: walking players move and agents' bookkeeping
ticks. A page that subscribes to it downloads the whole world once a step. The view below
leaves out everything a page can compute itself or does not draw: a walking player is sent
as its timed path (the page interpolates along it), not as a position that changes every
step, and agents' and conversations' bookkeeping stays on the server. The page splits it
further: a roster (who is here, agents), which changes when people come or go, the
conversations, which change when people invite, meet, type or part, and one small view
per player, which changes when that player starts
or stops walking or takes up an activity. A live query pushes only when its result
changes, so a step where three people set off sends three small values, not the world;
the game clock travels in its own tiny query.
"""

from __future__ import annotations

from typing import Any


def _path(path: list[list[float]]) -> list[list[float]]:
    """Waypoints ``[x, y, dx, dy, t]`` where the walk turns (plus both ends), times in whole
    milliseconds. Speed is constant, so the page interpolating between turns draws exactly
    the same walk as between every tile — for a fraction of the bytes."""
    kept = [
        p
        for i, p in enumerate(path)
        if i == 0 or i == len(path) - 1 or (p[2], p[3]) != (path[i - 1][2], path[i - 1][3])
    ]
    return [[x, y, dx, dy, round(t)] for x, y, dx, dy, t in kept]


def player_view(player: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"id": player["id"]}
    if player.get("human"):
        view["human"] = player["human"]
    pathfinding = player.get("pathfinding")
    state = pathfinding["state"] if pathfinding else {}
    if state.get("kind") == "moving" and state.get("path"):
        view["path"] = _path(state["path"])
    else:
        view["position"] = player["position"]
        view["facing"] = player["facing"]
    activity = player.get("activity")
    if activity:
        shown = ("description", "emoji", "until")
        view["activity"] = {k: activity[k] for k in shown if k in activity}
    return view


def conversation_view(conversation: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": conversation["id"],
        "participants": [
            {"playerId": p["playerId"], "status": {"kind": p["status"]["kind"]}}
            for p in conversation["participants"]
        ],
    }
    typing = conversation.get("isTyping")
    if typing:
        view["isTyping"] = {"playerId": typing["playerId"]}
    return view


def roster_view(world: dict[str, Any]) -> dict[str, Any]:
    """Who is in the world, without where anyone is or who talks with whom."""
    return {
        "players": [
            {"id": p["id"], **({"human": p["human"]} if p.get("human") else {})}
            for p in world.get("players", [])
        ],
        "agents": [{"id": a["id"], "playerId": a["playerId"]} for a in world.get("agents", [])],
    }


def conversations_view(world: dict[str, Any]) -> list[dict[str, Any]]:
    return [conversation_view(c) for c in world.get("conversations", [])]


def world_view(world: dict[str, Any]) -> dict[str, Any]:
    """The roster with every player's view in it: the whole picture in one value."""
    return {
        **roster_view(world),
        "players": [player_view(p) for p in world.get("players", [])],
        "conversations": conversations_view(world),
    }
