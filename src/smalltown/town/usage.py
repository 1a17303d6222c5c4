"""``usage:*``: the internal functions an operation's meter calls to record each LLM call
in its world's hourly rows and read the hour's tokens (``worlds/usage.py`` does the sums)."""

from __future__ import annotations

from typing import Any

from smalltown.runtime import internal_mutation, internal_query
from smalltown.worlds.usage import record_calls, tokens_this_hour


@internal_mutation
async def record(ctx, writer: str, calls: list[dict[str, Any]]) -> None:
    """LLM calls added to their worlds' rows for the hour, the rows of process ``writer``."""
    await record_calls(ctx.db, writer, calls)


@internal_query
async def tokensThisHour(ctx, worldId: str, hour: float) -> float:
    return await tokens_this_hour(ctx.db, worldId, hour)
