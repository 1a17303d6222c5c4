"""Agents' operations, run by the scheduler as actions: the engine asks, these answer.

``generateMessage`` asks the configured LLM for an agent's next line, writes it to the
messages table and tells the engine with an ``agentFinishMessage`` input. When the LLM
cannot answer, the engine is told (``agentOperationFailed``) so the agent is not left
waiting, and the world's status records the error so viewers see it, with the fix.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from smalltown.llm import LLMError
from smalltown.runtime import internal_action, internal_mutation, internal_query
from smalltown.town.inputs import insert_input
from smalltown.town.prompts import clean_reply, conversation_messages

log = logging.getLogger("smalltown.town.agents")
NO_LLM = (
    "no LLM is configured: set OPENAI_API_KEY, LLM_API_URL (any OpenAI-compatible server) "
    "or OLLAMA_HOST, and restart"
)


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
    if hasattr(llm, "compose"):  # the offline brain: no prompt, lines from templates
        text = llm.compose(kind, context["me"], context["other"], transcript, messageUuid)
    else:
        prompt = conversation_messages(
            kind, context["me"], context["other"], transcript, context["metBefore"]
        )
        try:
            reply = await llm.chat(prompt, max_tokens=120)
        except LLMError as exc:
            log.warning("agent %s could not speak: %s", agentId, exc)
            await ctx.run_mutation("agentOps:failOperation", {**base, "error": str(exc)})
            return
        text = clean_reply(reply.text, kind) or "…"
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


@internal_action
async def rememberConversation(
    ctx, worldId: str, operationId: str, agentId: str, conversationId: str
) -> None:
    # Memories (summary, importance, embedding) come with the memory layer; until then
    # the agent is released at once.
    await ctx.run_mutation(
        "agentOps:finishRemember",
        {"worldId": worldId, "operationId": operationId, "agentId": agentId},
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
    status = await _engine(ctx.db, worldId)
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
        "agentFinishMessage",
        {
            "agentId": agentId,
            "operationId": operationId,
            "conversationId": conversationId,
            "messageUuid": messageUuid,
            "leave": leave,
        },
    )
    if status.get("smalltownLlmError"):
        await ctx.db.patch(status["_id"], {"smalltownLlmError": None})


@internal_mutation
async def failOperation(ctx, worldId: str, operationId: str, agentId: str, error: str) -> None:
    status = await _engine(ctx.db, worldId)
    await insert_input(
        ctx.db,
        status["engineId"],
        "agentOperationFailed",
        {"agentId": agentId, "operationId": operationId},
    )
    await ctx.db.patch(
        status["_id"], {"smalltownLlmError": error, "smalltownLlmErrorAt": time.time() * 1000}
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
