"""``aiTown/main:inputStatus``: what became of an input."""

from typing import Any

from smalltown.runtime import query


@query
async def inputStatus(ctx, inputId: str) -> dict[str, Any] | None:
    """The input's result once its step is saved (``{kind: ok|error, ...}``), else null."""
    found = await ctx.db.get(inputId, table="inputs")
    if found is None:
        return None
    return found.get("returnValue")
