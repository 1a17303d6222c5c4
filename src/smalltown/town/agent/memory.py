"""``agent/memory:*``: agents' memories, in AI Town's two tables (``memories`` and
``memoryEmbeddings``): read for recall and reflection, written when an agent remembers."""

from __future__ import annotations

import time
from typing import Any

from smalltown.agents.events import NEWS_IMPORTANCE
from smalltown.runtime import internal_mutation, internal_query
from smalltown.town.agent.conversation import conversation_context, conversation_members
from smalltown.town.aiTown.agentInputs import finish_remember
from smalltown.worlds.parts import read_entry

LAST_ACCESS_EVERY_MS = 5 * 60_000


@internal_query
async def memoryContext(ctx, worldId: str, agentId: str, conversationId: str) -> dict[str, Any]:
    agent = await read_entry(ctx.db, worldId, "agents", agentId)
    # One who left a group remembers it while the others talk on.
    members = await conversation_members(ctx.db, worldId, conversationId)
    if agent is None or not members:
        return {"found": False}
    me = agent["playerId"]
    other = next((p for p in members if p != me), me)
    context = await conversation_context(ctx.db, worldId, me, other, conversationId)
    return {"found": True, "playerId": me, "otherPlayerId": other, **context}


NEWS_SEARCHED = 50  # the player's latest memories looked through for news


@internal_query
async def news(ctx, playerId: str, listenerIds: list[str]) -> list[str]:
    """The player's latest news for these listeners: its most recent important memory
    (not a reflection) from a talk none of them took part in, so they have not heard it."""
    memories = await ctx.db.query(
        "memories", "playerId", eq={"playerId": playerId}, order="desc", limit=NEWS_SEARCHED
    )
    memories.sort(key=lambda m: m["_creationTime"], reverse=True)
    for memory in memories:
        data = memory["data"]
        if data["type"] == "reflection" or memory["importance"] < NEWS_IMPORTANCE:
            continue
        if any(p in data.get("playerIds", []) for p in listenerIds):
            continue
        return [memory["description"]]
    return []


@internal_query
async def memoriesByEmbedding(ctx, embeddingIds: list[str]) -> list[dict[str, Any]]:
    out = []
    for embedding_id in embeddingIds:
        memory = await ctx.db.first("memories", "embeddingId", eq={"embeddingId": embedding_id})
        if memory is not None:
            out.append(memory)
    return out


@internal_mutation
async def touchMemories(ctx, memoryIds: list[str], now: float) -> None:
    """Memories used are fresh again (written at most every five minutes each)."""
    for memory_id in memoryIds:
        memory = await ctx.db.get(memory_id, table="memories")
        if memory and now - memory["lastAccess"] > LAST_ACCESS_EVERY_MS:
            await ctx.db.patch(memory_id, {"lastAccess": now})


@internal_query
async def reflectionDue(ctx, playerId: str, threshold: float) -> list[dict[str, Any]] | None:
    """The memories since the player's last reflection, if their importance passes
    ``threshold``."""
    memories = await ctx.db.query("memories", "playerId", eq={"playerId": playerId})
    memories.sort(key=lambda m: m["_creationTime"])
    last = max((i for i, m in enumerate(memories) if m["data"]["type"] == "reflection"), default=-1)
    recent = [m for m in memories[last + 1 :] if m["data"]["type"] != "reflection"]
    if sum(m["importance"] for m in recent) <= threshold:
        return None
    return [
        {"_id": m["_id"], "description": m["description"], "importance": m["importance"]}
        for m in recent[-100:]
    ]


@internal_mutation
async def storeMemory(
    ctx,
    worldId: str,
    operationId: str,
    agentId: str,
    playerId: str,
    description: str,
    importance: float,
    embedding: list[float],
    data: dict[str, Any],
) -> str:
    """The memory, and the input that finishes the remembering operation, in one write."""
    memory_id = await _insert_memory(ctx.db, playerId, description, importance, embedding, data)
    await finish_remember(ctx.db, worldId, operationId, agentId)
    return memory_id


@internal_mutation
async def storeReflection(
    ctx,
    playerId: str,
    description: str,
    importance: float,
    embedding: list[float],
    relatedMemoryIds: list[str],
) -> str:
    data = {"type": "reflection", "relatedMemoryIds": relatedMemoryIds}
    return await _insert_memory(ctx.db, playerId, description, importance, embedding, data)


async def _insert_memory(
    db, player_id: str, description: str, importance: float, embedding: list[float], data
) -> str:
    """A memory and its embedding, in AI Town's two tables."""
    embedding_id = await db.insert(
        "memoryEmbeddings", {"playerId": player_id, "embedding": embedding}
    )
    return await db.insert(
        "memories",
        {
            "playerId": player_id,
            "description": description,
            "embeddingId": embedding_id,
            "importance": importance,
            "lastAccess": time.time() * 1000,
            "data": data,
        },
    )
