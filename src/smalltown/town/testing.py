"""``testing:stop`` and ``testing:resume``: freeze and thaw the default world (admin only)."""

from __future__ import annotations

import time

from smalltown.runtime import ConvexError, mutation


async def _default(ctx):
    if not ctx.auth.is_admin:
        raise ConvexError("this needs the admin key")
    status = await ctx.db.first("worldStatus", "isDefault", eq={"isDefault": True})
    if status is None:
        raise ConvexError("there is no default world")
    return status


@mutation
async def stop(ctx) -> None:
    status = await _default(ctx)
    await ctx.db.patch(status["_id"], {"status": "stoppedByDeveloper"})


@mutation
async def resume(ctx) -> None:
    status = await _default(ctx)
    await ctx.db.patch(status["_id"], {"status": "running", "lastViewed": time.time() * 1000})


@mutation
async def kick(ctx) -> None:
    """Wake the default world and let the runner take it from its last saved step, as
    after a restart (the runner is a loop, so there is nothing else to restart)."""
    status = await _default(ctx)
    await ctx.db.patch(status["_id"], {"status": "running", "lastViewed": time.time() * 1000})
