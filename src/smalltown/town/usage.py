"""``usage:*``: the internal functions an operation's meter calls to record each LLM call
in its world's hourly row and read the hour's tokens (``worlds/usage.py`` does the sums)."""

from __future__ import annotations

from smalltown.runtime import internal_mutation, internal_query
from smalltown.worlds.usage import record_call, tokens_this_hour


@internal_mutation
async def record(
    ctx,
    worldId: str,
    hour: float,
    model: str,
    ok: bool,
    promptTokens: float = 0.0,
    completionTokens: float = 0.0,
    latencyMs: float | None = None,
    costUsd: float | None = None,
    local: bool = False,
) -> float:
    """One LLM call added to the world's row for the hour; the hour's tokens so far."""
    return await record_call(
        ctx.db,
        worldId,
        hour,
        model,
        ok,
        promptTokens,
        completionTokens,
        latencyMs,
        costUsd,
        local,
    )


@internal_query
async def tokensThisHour(ctx, worldId: str, hour: float) -> float:
    return await tokens_this_hour(ctx.db, worldId, hour)
