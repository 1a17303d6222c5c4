"""Echo functions for value-encoding tests."""

from typing import Any

from smalltown.runtime import action, caller_query, mutation, query


@query
async def echo(ctx, value: Any) -> Any:
    return value


@query
async def typed(ctx, text: str, number: float, whole: int, flag: bool, blob: bytes) -> dict:
    return {"text": text, "number": number, "whole": whole, "flag": flag, "blob": blob}


@mutation
async def noop(ctx) -> None:
    return None


@action
async def shout(ctx, channel: str) -> float:
    count = await ctx.run_query("messages:count", {"channel": channel})
    await ctx.run_mutation("messages:send", {"channel": channel, "author": "bot", "body": "!"})
    return count + 1


@query
async def whoami(ctx) -> dict:
    identity = ctx.auth.identity
    return {"kind": identity.kind, "subject": identity.subject}


@caller_query
async def whoami_per_caller(ctx) -> dict:
    """As ``whoami``, declared to answer each caller: a socket with no auth is its session."""
    identity = ctx.auth.identity
    return {"kind": identity.kind, "subject": identity.subject}


@mutation
async def whoami_acting(ctx) -> dict:
    identity = ctx.auth.identity
    return {"kind": identity.kind, "subject": identity.subject}


@mutation
async def sign_in(ctx, name: str) -> str:
    return ctx.auth.mint_token(name, {"name": name})


@mutation
async def counter_add(ctx, name: str) -> float:
    doc = await ctx.db.first("counters", "by_name", eq={"name": name})
    if doc is None:
        await ctx.db.insert("counters", {"name": name, "n": 1.0})
        return 1.0
    await ctx.db.patch(doc["_id"], {"n": doc["n"] + 1})
    return doc["n"] + 1
