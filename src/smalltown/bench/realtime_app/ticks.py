"""The realtime benchmark's functions: bump a named counter, and watch its latest value
(``sentAt`` carries the sender's clock so the watcher can time the round trip)."""

from typing import Any

from smalltown.runtime import mutation, query


@query
async def latest(ctx, name: str) -> dict[str, Any] | None:
    doc = await ctx.db.first("ticks", "by_name", eq={"name": name})
    return None if doc is None else {"n": doc["n"], "sentAt": doc.get("sentAt", 0.0)}


@mutation
async def tick(ctx, name: str, n: float, sentAt: float = 0.0) -> None:
    doc = await ctx.db.first("ticks", "by_name", eq={"name": name})
    if doc is None:
        await ctx.db.insert("ticks", {"name": name, "n": n, "sentAt": sentAt})
    else:
        await ctx.db.patch(doc["_id"], {"n": n, "sentAt": sentAt})
