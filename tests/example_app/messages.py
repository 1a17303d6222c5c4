from typing import Any

from smalltown.runtime import ConvexError, internal_mutation, mutation, query


@query
async def list(ctx, channel: str, limit: float = 50) -> list[dict[str, Any]]:
    docs = await ctx.db.query(
        "messages", "by_channel", eq={"channel": channel}, order="desc", limit=int(limit)
    )
    return [{"author": d["author"], "body": d["body"]} for d in reversed(docs)]


@mutation
async def send(ctx, channel: str, author: str, body: str) -> str:
    if not body.strip():
        raise ConvexError({"code": "empty", "message": "say something"})
    return await ctx.db.insert("messages", {"channel": channel, "author": author, "body": body})


@query
async def count(ctx, channel: str) -> float:
    return float(len(await ctx.db.query("messages", "by_channel", eq={"channel": channel})))


@internal_mutation
async def wipe(ctx, channel: str) -> float:
    docs = await ctx.db.query("messages", "by_channel", eq={"channel": channel})
    for d in docs:
        await ctx.db.delete(d["_id"])
    return float(len(docs))


@query
async def broken(ctx) -> None:
    raise RuntimeError("a bug the caller must not see")
