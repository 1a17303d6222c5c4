"""``gate:held`` counts a name up once the test opens ``GATE``; ``ENTERED`` says it began."""

import asyncio

from smalltown.runtime import mutation

GATE = asyncio.Event()
ENTERED = asyncio.Event()


@mutation
async def held(ctx, name: str) -> float:
    ENTERED.set()
    await GATE.wait()
    doc = await ctx.db.first("counters", "by_name", eq={"name": name})
    if doc is None:
        await ctx.db.insert("counters", {"name": name, "n": 1.0})
        return 1.0
    await ctx.db.patch(doc["_id"], {"n": doc["n"] + 1})
    return doc["n"] + 1
