"""``messages:*``: the words of conversations (the engine only counts them)."""

from __future__ import annotations

from typing import Any

from smalltown.runtime import ConvexError, mutation, query
from smalltown.worlds.inputs import check_owner, check_participant, record_message


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


@query
async def conversationLines(ctx, worldId: str, conversationId: str) -> list[dict[str, Any]]:
    """A conversation's lines with only what a page shows (``listMessages`` has AI Town's
    whole documents): every new line re-sends the list, so it is kept small."""
    return [
        {"author": m["author"], "authorName": m["authorName"], "text": m["text"]}
        for m in await listMessages(ctx, worldId, conversationId)
    ]


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
    if ctx.auth.identity.kind != "admin":
        await check_participant(ctx.db, worldId, conversationId, playerId)
    await record_message(
        ctx.db,
        worldId,
        conversationId,
        messageUuid,
        playerId,
        text,
        ("finishSendingMessage", {"playerId": playerId, "timestamp": 0.0}),
    )
