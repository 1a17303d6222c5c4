"""``testing:stop`` and ``testing:resume``: freeze and thaw a world (admin only); the
default world unless ``worldId`` names another."""

from __future__ import annotations

import time

from smalltown.runtime import ConvexError, mutation


async def _status(ctx, world_id: str | None):
    if not ctx.auth.is_admin:
        raise ConvexError("this needs the admin key")
    if world_id is None:
        status = await ctx.db.first("worldStatus", "isDefault", eq={"isDefault": True})
        if status is None:
            raise ConvexError("there is no default world")
    else:
        status = await ctx.db.first("worldStatus", "worldId", eq={"worldId": world_id})
        if status is None:
            raise ConvexError(f"no world {world_id!r}")
    return status


@mutation
async def stop(ctx, worldId: str | None = None) -> None:
    status = await _status(ctx, worldId)
    await ctx.db.patch(status["_id"], {"status": "stoppedByDeveloper"})


@mutation
async def resume(ctx, worldId: str | None = None) -> None:
    status = await _status(ctx, worldId)
    await ctx.db.patch(status["_id"], {"status": "running", "lastViewed": time.time() * 1000})


@mutation
async def kick(ctx, worldId: str | None = None) -> None:
    """Wake a world and let the runner take it from its last saved step, as after a
    restart (the runner is a loop, so there is nothing else to restart)."""
    status = await _status(ctx, worldId)
    await ctx.db.patch(status["_id"], {"status": "running", "lastViewed": time.time() * 1000})
