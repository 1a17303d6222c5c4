"""``aiTown/agentInputs:*``: agents' operations answered: the inputs that tell the engine
an operation is done or failed, so the agent is not left waiting. A failure also goes on
the world's row in ``smalltownWorldHealth``, so viewers see why (``world:listWorlds`` shows it
as ``smalltownLlmError``), with the fix and, when the
world's LLM budget is spent, its size and when it refills (``smalltownLlmBudget``)."""

from __future__ import annotations

import time
from typing import Any

from smalltown.runtime import internal_mutation
from smalltown.worlds.inputs import insert_input, record_message


async def _status(db, world_id: str) -> dict[str, Any]:
    return await db.first("worldStatus", "worldId", eq={"worldId": world_id})


async def finish_remember(db, world_id: str, operation_id: str, agent_id: str) -> None:
    status = await _status(db, world_id)
    await insert_input(
        db,
        status["engineId"],
        "agentFinishRememberConversation",
        {"agentId": agent_id, "operationId": operation_id},
    )


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
    hints: dict[str, Any] | None = None,
) -> None:
    """The agent's line, and the input that says it was sent; a line clears the error.
    ``hints``: whose turn the line suggests in a group (``agent/conversation:turnHints``),
    worked out before, so that this reads nothing a step of the world writes (a write
    that does would conflict with the step running meanwhile, and be made again)."""
    health = await ctx.db.first("smalltownWorldHealth", "worldId", eq={"worldId": worldId})
    if health is not None:
        await ctx.db.delete(health["_id"])
    await record_message(
        ctx.db,
        worldId,
        conversationId,
        messageUuid,
        playerId,
        text,
        ("agentFinishMessage", {"agentId": agentId, "operationId": operationId, "leave": leave}),
        hints,
    )


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
    status = await _status(ctx.db, worldId)
    await insert_input(
        ctx.db,
        status["engineId"],
        "agentOperationFailed",
        {"agentId": agentId, "operationId": operationId},
    )
    health = await ctx.db.first("smalltownWorldHealth", "worldId", eq={"worldId": worldId})
    if health is None or health.get("llmError") != error or health.get("llmBudget") != budget:
        fields = {"worldId": worldId, "llmError": error, "llmErrorAt": time.time() * 1000}
        if budget is not None:
            fields["llmBudget"] = budget
        if health is None:
            await ctx.db.insert("smalltownWorldHealth", fields)
        else:
            await ctx.db.replace(health["_id"], fields)


@internal_mutation
async def finishRemember(ctx, worldId: str, operationId: str, agentId: str) -> None:
    await finish_remember(ctx.db, worldId, operationId, agentId)


@internal_mutation
async def finishPlan(
    ctx, worldId: str, operationId: str, agentId: str, answer: dict[str, Any]
) -> None:
    """The agent's plan (or its current item's steps), as the input ``agentFinishPlan``."""
    status = await _status(ctx.db, worldId)
    await insert_input(
        ctx.db,
        status["engineId"],
        "agentFinishPlan",
        {**answer, "agentId": agentId, "operationId": operationId},
    )
