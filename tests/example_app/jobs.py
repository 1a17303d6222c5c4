"""Scheduling, for the scheduler tests."""

import asyncio

from smalltown.runtime import ConvexError, internal_action, internal_mutation, mutation, query


@mutation
async def schedule(ctx, tag: str, seconds: float = 0.0, fail: bool = False) -> str:
    job = await ctx.scheduler.run_after(seconds, "jobs:record", {"tag": tag})
    if fail:
        raise ConvexError("rolled back")
    return job


@mutation
async def schedule_action(ctx, tag: str) -> str:
    return await ctx.scheduler.run_after(0, "jobs:act", {"tag": tag})


@mutation
async def schedule_explosion(ctx) -> str:
    return await ctx.scheduler.run_after(0, "jobs:explode", {})


@internal_mutation
async def record(ctx, tag: str) -> None:
    await ctx.db.insert("log", {"tag": tag})


@internal_action
async def act(ctx, tag: str) -> None:
    await ctx.run_mutation("jobs:record", {"tag": f"action:{tag}"})


@internal_mutation
async def explode(ctx) -> None:
    await ctx.db.insert("log", {"tag": "never"})
    raise ConvexError("boom")


@query
async def tags(ctx) -> list[str]:
    return [d["tag"] for d in await ctx.db.query("log")]


@query
async def job(ctx, id: str) -> dict:
    doc = await ctx.db.get(id, table="_scheduled_functions")
    return {"state": doc["state"], "name": doc["name"]}


#: held actions, by tag, until the test releases them (the test's towns share this process)
HELD: dict[str, asyncio.Event] = {}


def release(tag: str) -> None:
    """Let the held action ``tag`` finish."""
    HELD.setdefault(tag, asyncio.Event()).set()


@mutation
async def schedule_held(ctx, tag: str) -> str:
    return await ctx.scheduler.run_after(0, "jobs:held", {"tag": tag})


@internal_action
async def held(ctx, tag: str) -> None:
    """An action that runs until the test releases it: a process may stop, or another
    start, meanwhile."""
    await HELD.setdefault(tag, asyncio.Event()).wait()
    await ctx.run_mutation("jobs:record", {"tag": tag})


#: set when a held function has started (its transaction open, for a mutation), by tag
STARTED: dict[str, asyncio.Event] = {}


@mutation
async def schedule_path(ctx, path: str, args: dict) -> str:
    """Schedule any function now (the outage tests' held ones)."""
    return await ctx.scheduler.run_after(0, path, args)


@internal_action
async def held_quiet(ctx, tag: str) -> None:
    """Like ``held``, but touching no table: only writing its result needs the database."""
    STARTED.setdefault(tag, asyncio.Event()).set()
    await HELD.setdefault(tag, asyncio.Event()).wait()


@internal_mutation
async def held_record(ctx, tag: str) -> None:
    """Records ``tag`` once released, its transaction open meanwhile (the database may
    drop the connection under it)."""
    STARTED.setdefault(tag, asyncio.Event()).set()
    await HELD.setdefault(tag, asyncio.Event()).wait()
    await ctx.db.insert("log", {"tag": tag})


@query
async def held_tags(ctx, tag: str) -> list[str]:
    """``tags``, once released: a live query's re-run may be caught by an outage."""
    STARTED.setdefault(tag, asyncio.Event()).set()
    await HELD.setdefault(tag, asyncio.Event()).wait()
    return [d["tag"] for d in await ctx.db.query("log")]
