"""Agents' operations, run by the scheduler as actions: the engine asks, these answer.

``generateMessage`` asks the configured LLM for an agent's next line, writes it to the
messages table and tells the engine with an ``agentFinishMessage`` input. When the LLM
cannot answer, the engine is told (``agentOperationFailed``) so the agent is not left
waiting, and the world's status records the error so viewers see it, with the fix.

Every LLM call goes through a :class:`Meter`, which records it in the world's usage and,
once the world's tokens for the hour are spent, refuses it before it is made: the
operation fails as above and the status says until when (``smalltownLlmBudget``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from smalltown.agents.memory import parse_importance, rank
from smalltown.agents.prompts import (
    MAX_REPLY_CHARS,
    clean_reply,
    conversation_messages,
    importance_messages,
    parse_insights,
    reflection_messages,
    summary_messages,
)
from smalltown.llm import NO_LLM, LLMBudgetExceeded, LLMError, LLMResponseError, offline
from smalltown.llm.budget import SETTING
from smalltown.runtime import internal_action, internal_mutation, internal_query
from smalltown.worlds.inputs import insert_input, record_message
from smalltown.worlds.memory_index import embedding_key
from smalltown.worlds.meter import Meter

log = logging.getLogger("smalltown.town.agents")


@internal_query
async def conversationContext(
    ctx, worldId: str, playerId: str, otherPlayerId: str, conversationId: str
) -> dict[str, Any]:
    described = {
        d["playerId"]: d
        for d in await ctx.db.query("playerDescriptions", "worldId", eq={"worldId": worldId})
    }
    agents = {
        d["agentId"]: d
        for d in await ctx.db.query("agentDescriptions", "worldId", eq={"worldId": worldId})
    }
    world = await ctx.db.get(worldId, table="worlds")
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

    messages = await ctx.db.query(
        "messages", "conversationId", eq={"worldId": worldId, "conversationId": conversationId}
    )
    met = await ctx.db.first(
        "participatedTogether",
        "edge",
        eq={"worldId": worldId, "player1": playerId, "player2": otherPlayerId},
    )
    return {
        "me": person(playerId),
        "other": person(otherPlayerId),
        "transcript": [[person(m["author"])["name"], m["text"]] for m in messages],
        "metBefore": met is not None,
    }


@internal_action
async def generateMessage(
    ctx,
    worldId: str,
    operationId: str,
    agentId: str,
    playerId: str,
    otherPlayerId: str,
    conversationId: str,
    messageUuid: str,
    kind: str,
) -> None:
    base = {"worldId": worldId, "operationId": operationId, "agentId": agentId}
    llm = ctx.extensions.get("llm")
    if llm is None:
        await ctx.run_mutation("agentOps:failOperation", {**base, "error": NO_LLM})
        return
    context = await ctx.run_query(
        "agentOps:conversationContext",
        {
            "worldId": worldId,
            "playerId": playerId,
            "otherPlayerId": otherPlayerId,
            "conversationId": conversationId,
        },
    )
    transcript = [tuple(t) for t in context["transcript"]]
    meter = Meter(ctx, worldId)
    if llm.composer is not None:  # the offline brain: no prompt, lines from templates
        memories = await _recall_or_none(ctx, meter, agentId, playerId, context["other"])
        text = llm.composer.compose(
            kind, context["me"], context["other"], transcript, messageUuid, memories
        )
    else:
        try:
            await meter.check_budget()
        except LLMBudgetExceeded as exc:
            await _fail(ctx, base, exc)
            return
        memories = await _recall_or_none(ctx, meter, agentId, playerId, context["other"])
        try:
            prompt = conversation_messages(
                kind,
                context["me"],
                context["other"],
                transcript,
                context["metBefore"],
                memories,
            )
            reply = await meter.chat(prompt, max_tokens=120)
            text = _cleaned(llm, reply.text, kind)
        except LLMError as exc:
            log.warning("agent %s could not speak: %s", agentId, exc)
            await _fail(ctx, base, exc)
            return
    await ctx.run_mutation(
        "agentOps:finishMessage",
        {
            **base,
            "playerId": playerId,
            "conversationId": conversationId,
            "messageUuid": messageUuid,
            "text": text,
            "leave": kind == "leave",
        },
    )


def _cleaned(llm, text: str, kind: str, max_chars: int = MAX_REPLY_CHARS) -> str:
    """The reply tidied; one with nothing left is refused (the operation fails, the status
    says why, the agent tries again later) rather than said or remembered."""
    cleaned = clean_reply(text, kind, max_chars)
    if not cleaned.strip("…. "):
        raise LLMResponseError(
            f"{llm.description} gave an empty reply ({text[:80]!r}); the agent will try again"
        )
    return cleaned


MEMORY_CANDIDATES = 10  # fetched per wanted memory, then ranked (as AI Town does)
LAST_ACCESS_EVERY_MS = 5 * 60_000


async def _fail(ctx, base: dict[str, str], exc: LLMError) -> None:
    """Tell the engine the operation failed, and the world's status why."""
    args: dict[str, Any] = {**base, "error": str(exc)}
    if isinstance(exc, LLMBudgetExceeded):
        args["budget"] = {
            "tokensPerHour": float(exc.tokens_per_hour),
            "resetsAt": exc.resets_at * 1000,
            "setting": SETTING,
        }
    await ctx.run_mutation("agentOps:failOperation", args)


async def _recall_or_none(ctx, meter: Meter, agent_id: str, player_id: str, other) -> list[str]:
    try:
        return await recall(ctx, meter, player_id, str(other["name"]), count=3)
    except Exception as exc:  # speaking without memories beats not speaking
        log.warning("agent %s speaks without memories: %s", agent_id, exc)
        return []


async def recall(ctx, meter: Meter, player_id: str, about: str, count: int) -> list[str]:
    """The player's ``count`` best memories about ``about``: vector search for candidates,
    then relevance, importance and recency together."""
    vector = await embed(ctx, meter, about)
    found = await ctx.vector_search(
        "memoryEmbeddings",
        "embedding",
        vector,
        limit=count * MEMORY_CANDIDATES,
        filter={"playerId": player_id},
    )
    if not found:
        return []
    memories = await ctx.run_query(
        "agentOps:memoriesByEmbedding", {"embeddingIds": [id for id, _ in found]}
    )
    by_embedding = {m["embeddingId"]: m for m in memories}
    now = time.time() * 1000
    candidates = [
        (
            by_embedding[id]["_id"],
            score,
            by_embedding[id]["importance"],
            by_embedding[id]["lastAccess"],
        )
        for id, score in found
        if id in by_embedding
    ]
    chosen = rank(candidates, now, count)
    await ctx.run_mutation("agentOps:touchMemories", {"memoryIds": chosen, "now": now})
    descriptions = {m["_id"]: m["description"] for m in memories}
    return [descriptions[id] for id in chosen]


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
async def memoryContext(ctx, worldId: str, agentId: str, conversationId: str) -> dict[str, Any]:
    world = await ctx.db.get(worldId, table="worlds")
    agent = next((a for a in world["agents"] if a["id"] == agentId), None)
    archived = await ctx.db.first(
        "archivedConversations", "worldId", eq={"worldId": worldId, "id": conversationId}
    )
    if agent is None or archived is None:
        return {"found": False}
    me = agent["playerId"]
    other = next((p for p in archived["participants"] if p != me), me)
    context = await conversationContext(ctx, worldId, me, other, conversationId)
    return {"found": True, "playerId": me, "otherPlayerId": other, **context}


@internal_query
async def cachedEmbedding(ctx, textHash: bytes) -> list[float] | None:
    found = await ctx.db.first("embeddingsCache", "text", eq={"textHash": textHash})
    return None if found is None else found["embedding"]


@internal_mutation
async def cacheEmbedding(ctx, textHash: bytes, embedding: list[float]) -> None:
    if await ctx.db.first("embeddingsCache", "text", eq={"textHash": textHash}) is None:
        await ctx.db.insert("embeddingsCache", {"textHash": textHash, "embedding": embedding})


async def embed(ctx, meter: Meter, text: str) -> list[float]:
    """Embed ``text``, through the cache keyed by a hash of the model and the text."""
    key = embedding_key(meter.embedder.embedding_model, text)
    cached = await ctx.run_query("agentOps:cachedEmbedding", {"textHash": key})
    if cached is not None:
        return cached
    (vector,) = await meter.embed([text])
    await ctx.run_mutation("agentOps:cacheEmbedding", {"textHash": key, "embedding": vector})
    return vector


@internal_action
async def rememberConversation(
    ctx, worldId: str, operationId: str, agentId: str, conversationId: str
) -> None:
    """Write the conversation down as a first-person memory, rated and embedded."""
    base = {"worldId": worldId, "operationId": operationId, "agentId": agentId}
    context = await ctx.run_query(
        "agentOps:memoryContext",
        {"worldId": worldId, "agentId": agentId, "conversationId": conversationId},
    )
    if not context["found"] or not context["transcript"]:
        await ctx.run_mutation("agentOps:finishRemember", base)
        return
    me, other = context["me"], context["other"]
    llm = ctx.extensions.get("llm")
    meter = Meter(ctx, worldId)
    transcript = [tuple(t) for t in context["transcript"]]
    try:
        composer = offline.OfflineBrain() if llm is None else llm.composer
        if composer is not None:  # offline: the gist, plainly
            summary = composer.remember(other["name"], transcript)
            importance = 5.0
        else:
            summary = _cleaned(
                llm,
                (await meter.chat(summary_messages(me, other, transcript), max_tokens=120)).text,
                "summary",
                300,
            )
            importance = parse_importance(
                (await meter.chat(importance_messages(me, summary), max_tokens=5)).text
            )
        vector = await embed(ctx, meter, summary)
    except LLMError as exc:
        log.warning("agent %s could not remember: %s", agentId, exc)
        await _fail(ctx, base, exc)
        return
    await ctx.run_mutation(
        "agentOps:storeMemory",
        {
            **base,
            "playerId": context["playerId"],
            "description": summary,
            "importance": importance,
            "embedding": vector,
            "data": {
                "type": "conversation",
                "conversationId": conversationId,
                "playerIds": [context["playerId"], context["otherPlayerId"]],
            },
        },
    )
    try:
        await reflect(ctx, meter, context["playerId"], me)
    except LLMError as exc:  # a missed reflection is not worth failing the memory over
        log.warning("agent %s could not reflect: %s", agentId, exc)


REFLECTION_THRESHOLD = 500.0  # summed importance since the last reflection


@internal_query
async def reflectionDue(ctx, playerId: str) -> list[dict[str, Any]] | None:
    """The memories since the player's last reflection, if their importance passes the mark."""
    memories = await ctx.db.query("memories", "playerId", eq={"playerId": playerId})
    memories.sort(key=lambda m: m["_creationTime"])
    last = max((i for i, m in enumerate(memories) if m["data"]["type"] == "reflection"), default=-1)
    recent = [m for m in memories[last + 1 :] if m["data"]["type"] != "reflection"]
    if sum(m["importance"] for m in recent) <= REFLECTION_THRESHOLD:
        return None
    return [{"_id": m["_id"], "description": m["description"]} for m in recent[-100:]]


async def reflect(ctx, meter: Meter, player_id: str, me: dict[str, str]) -> int:
    """Three insights from recent memories, stored as reflection memories citing them."""
    recent = await ctx.run_query("agentOps:reflectionDue", {"playerId": player_id})
    if not recent or meter.llm is None or meter.llm.composer is not None:
        return 0
    answer = await meter.chat(
        reflection_messages(me, [m["description"] for m in recent]), max_tokens=300
    )
    stored = 0
    for insight, cited in parse_insights(answer.text, len(recent)):
        rating = await meter.chat(importance_messages(me, insight), max_tokens=5)
        vector = await embed(ctx, meter, insight)
        await ctx.run_mutation(
            "agentOps:storeReflection",
            {
                "playerId": player_id,
                "description": insight,
                "importance": parse_importance(rating.text),
                "embedding": vector,
                "relatedMemoryIds": [recent[n - 1]["_id"] for n in cited],
            },
        )
        stored += 1
    return stored


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
    memory_id = await _insert_memory(ctx.db, playerId, description, importance, embedding, data)
    await finishRemember(ctx, worldId, operationId, agentId)
    return memory_id


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


async def _engine(db, world_id: str) -> dict[str, Any]:
    return await db.first("worldStatus", "worldId", eq={"worldId": world_id})


@internal_mutation
async def finishMessage(
    ctx,
    worldId: str,
    operationId: str,
    agentId: str,
    playerId: str,
    conversationId: str,
    messageUuid: str,
    text: str,
    leave: bool,
) -> None:
    await record_message(
        ctx.db,
        worldId,
        conversationId,
        messageUuid,
        playerId,
        text,
        ("agentFinishMessage", {"agentId": agentId, "operationId": operationId, "leave": leave}),
    )
    status = await _engine(ctx.db, worldId)
    if status.get("smalltownLlmError") or status.get("smalltownLlmBudget"):
        await ctx.db.patch(status["_id"], {"smalltownLlmError": None, "smalltownLlmBudget": None})


@internal_mutation
async def failOperation(
    ctx,
    worldId: str,
    operationId: str,
    agentId: str,
    error: str,
    budget: dict[str, Any] | None = None,
) -> None:
    """Free the agent; the status says why and, when the world's budget is spent,
    (``smalltownLlmBudget``) its size, when it refills and the setting, for the page's
    banner. Written only when it changes."""
    status = await _engine(ctx.db, worldId)
    await insert_input(
        ctx.db,
        status["engineId"],
        "agentOperationFailed",
        {"agentId": agentId, "operationId": operationId},
    )
    if status.get("smalltownLlmError") != error or status.get("smalltownLlmBudget") != budget:
        await ctx.db.patch(
            status["_id"],
            {
                "smalltownLlmError": error,
                "smalltownLlmErrorAt": time.time() * 1000,
                "smalltownLlmBudget": budget,
            },
        )


@internal_mutation
async def finishRemember(ctx, worldId: str, operationId: str, agentId: str) -> None:
    status = await _engine(ctx.db, worldId)
    await insert_input(
        ctx.db,
        status["engineId"],
        "agentFinishRememberConversation",
        {"agentId": agentId, "operationId": operationId},
    )
