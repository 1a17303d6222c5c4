"""``aiTown/agentInputs:*``: agents' operations answered: the inputs that tell the engine
an operation is done or failed, so the agent is not left waiting. A failure also goes on
the world's status, so viewers see why, with the fix (``smalltownLlmError``) and, when the
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
) -> None:
    """The agent's line, and the input that says it was sent; a line clears the error."""
    await record_message(
        ctx.db,
        worldId,
        conversationId,
        messageUuid,
        playerId,
        text,
        ("agentFinishMessage", {"agentId": agentId, "operationId": operationId, "leave": leave}),
    )
    status = await _status(ctx.db, worldId)
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
    status = await _status(ctx.db, worldId)
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
    await finish_remember(ctx.db, worldId, operationId, agentId)
