"""``agent/conversation:*``: what an agent knows when it speaks: who the others are (two
people, or a group's every member), what has been said, and whether they have met."""

from __future__ import annotations

from typing import Any

from smalltown.runtime import internal_query
from smalltown.worlds.parts import world_document


async def conversation_context(
    db, world_id: str, player_id: str, other_player_id: str, conversation_id: str
) -> dict[str, Any]:
    described = {
        d["playerId"]: d
        for d in await db.query("playerDescriptions", "worldId", eq={"worldId": world_id})
    }
    agents = {
        d["agentId"]: d
        for d in await db.query("agentDescriptions", "worldId", eq={"worldId": world_id})
    }
    world = await world_document(db, world_id, ("agents", "conversations"))
    agent_of = {a["playerId"]: a["id"] for a in world["agents"]}

    def person(player_id: str) -> dict[str, str]:
        desc = described.get(player_id, {})
        agent = agents.get(agent_of.get(player_id, ""), {})
        return {
            "name": desc.get("name", player_id),
            "description": desc.get("description", ""),
            "identity": agent.get("identity", ""),
            "plan": agent.get("plan", ""),
        }

    messages = await db.query(
        "messages", "conversationId", eq={"worldId": world_id, "conversationId": conversation_id}
    )
    members = await _members(db, world, world_id, conversation_id)
    speakers = {player_id, other_player_id, *members}
    met = await db.first(
        "participatedTogether",
        "edge",
        eq={"worldId": world_id, "player1": player_id, "player2": other_player_id},
    )
    others = [other_player_id, *(p for p in members if p not in (player_id, other_player_id))]
    return {
        "me": person(player_id),
        "other": person(other_player_id),
        "others": [person(p) for p in others],
        "otherPlayerIds": others,
        # Only the participants' lines: a row by anyone else has no place in their prompts.
        "transcript": [
            [person(m["author"])["name"], m["text"]] for m in messages if m["author"] in speakers
        ],
        "metBefore": met is not None,
    }


async def _members(db, world: dict[str, Any], world_id: str, conversation_id: str) -> list[str]:
    """Who is in the conversation: now, or when it ended."""
    for conversation in world.get("conversations", []):
        if conversation["id"] == conversation_id:
            return [p["playerId"] for p in conversation["participants"]]
    archived = await db.first(
        "archivedConversations", "worldId", eq={"worldId": world_id, "id": conversation_id}
    )
    return list(archived["participants"]) if archived is not None else []


@internal_query
async def conversationContext(
    ctx, worldId: str, playerId: str, otherPlayerId: str, conversationId: str
) -> dict[str, Any]:
    return await conversation_context(ctx.db, worldId, playerId, otherPlayerId, conversationId)
