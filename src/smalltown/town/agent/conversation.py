"""``agent/conversation:*``: what an agent knows when it speaks: who the others are (two
people, or a group's every member), what has been said, and whether they have met."""

from __future__ import annotations

from typing import Any

from smalltown.runtime import internal_query
from smalltown.worlds.parts import read_entry
from smalltown.worlds.people import person
from smalltown.worlds.turns import turn_hints


async def conversation_context(
    db, world_id: str, player_id: str, other_player_id: str, conversation_id: str
) -> dict[str, Any]:
    messages = await db.query(
        "messages", "conversationId", eq={"worldId": world_id, "conversationId": conversation_id}
    )
    members = await conversation_members(db, world_id, conversation_id)
    others = [other_player_id, *(p for p in members if p not in (player_id, other_player_id))]
    people = {p: await person(db, world_id, p) for p in (player_id, *others)}
    met = await db.first(
        "participatedTogether",
        "edge",
        eq={"worldId": world_id, "player1": player_id, "player2": other_player_id},
    )
    return {
        "me": people[player_id],
        "other": people[other_player_id],
        "others": [people[p] for p in others],
        "otherPlayerIds": others,
        # Only the participants' lines: a row by anyone else has no place in their prompts.
        "transcript": [
            [people[m["author"]]["name"], m["text"]] for m in messages if m["author"] in people
        ],
        "metBefore": met is not None,
    }


async def conversation_members(db, world_id: str, conversation_id: str) -> list[str]:
    """Who is in the conversation: now, or when it ended."""
    live = await read_entry(db, world_id, "conversations", conversation_id)
    if live is not None:
        return [p["playerId"] for p in live["participants"]]
    archived = await db.first(
        "archivedConversations", "worldId", eq={"worldId": world_id, "id": conversation_id}
    )
    return list(archived["participants"]) if archived is not None else []


@internal_query
async def conversationContext(
    ctx, worldId: str, playerId: str, otherPlayerId: str, conversationId: str
) -> dict[str, Any]:
    return await conversation_context(ctx.db, worldId, playerId, otherPlayerId, conversationId)


@internal_query
async def turnHints(
    ctx, worldId: str, conversationId: str, author: str, text: str
) -> dict[str, Any]:
    """Whose turn ``author``'s line suggests in a group (``worlds/turns.py``); {} in a pair."""
    return await turn_hints(ctx.db, worldId, conversationId, author, text)
