"""Who a player is, as prompts and turn-taking name them, read by index: a few rows
whatever the size of the town."""

from __future__ import annotations

from smalltown.store import Transaction
from smalltown.worlds.parts import read_agent_of


async def person(db: Transaction, world_id: str, player_id: str) -> dict[str, str]:
    """The player's name and description, and, for an agent, its identity and plan (a
    player with no description is named by its id)."""
    desc = await db.first(
        "playerDescriptions", "worldId", eq={"worldId": world_id, "playerId": player_id}
    )
    agent = await read_agent_of(db, world_id, player_id)
    about = None
    if agent is not None:
        about = await db.first(
            "agentDescriptions", "worldId", eq={"worldId": world_id, "agentId": agent["id"]}
        )
    return {
        "name": (desc or {}).get("name", player_id),
        "description": (desc or {}).get("description", ""),
        "identity": (about or {}).get("identity", ""),
        "plan": (about or {}).get("plan", ""),
    }
