"""``messages:*``: the words of conversations (the engine only counts them)."""

from __future__ import annotations

from typing import Any

from smalltown.runtime import ConvexError, mutation, query
from smalltown.town.inputs import check_owner, insert_input


@query
async def listMessages(ctx, worldId: str, conversationId: str) -> list[dict[str, Any]]:
    messages = await ctx.db.query(
        "messages", "conversationId", eq={"worldId": worldId, "conversationId": conversationId}
    )
    names = {
        d["playerId"]: d["name"]
        for d in await ctx.db.query("playerDescriptions", "worldId", eq={"worldId": worldId})
    }
    return [{**m, "authorName": names.get(m["author"], m["author"])} for m in messages]


@mutation
async def writeMessage(
    ctx,
    worldId: str,
    conversationId: str,
    messageUuid: str,
    playerId: str,
    text: str,
) -> None:
    text = text.strip()
    if not text or len(text) > 2000:
        raise ConvexError("a message needs 1 to 2000 characters")
    await check_owner(ctx.db, worldId, ctx.auth.identity, {"playerId": playerId})
    status = await ctx.db.first("worldStatus", "worldId", eq={"worldId": worldId})
    await ctx.db.insert(
        "messages",
        {
            "worldId": worldId,
            "conversationId": conversationId,
            "messageUuid": messageUuid,
            "author": playerId,
            "text": text,
        },
    )
    await insert_input(
        ctx.db,
        status["engineId"],
        "finishSendingMessage",
        {
            "playerId": playerId,
            "conversationId": conversationId,
            "messageUuid": messageUuid,
            "timestamp": 0.0,
        },
    )
