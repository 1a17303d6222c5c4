"""``testing:*``: freeze and thaw a world, as AI Town's Freeze button does.

``stop`` and ``resume`` act on the default world unless ``worldId`` names another. The
admin key always may; anyone else only when the operator lets viewers freeze
(``SMALLTOWN_VIEWERS_MAY_FREEZE``), which ``stopAllowed`` tells AI Town's page, and then
only the default world, the one its button shows.
"""

from __future__ import annotations

import time

from smalltown.runtime import ConvexError, mutation, query


def _viewers_may_freeze(ctx) -> bool:
    return bool(ctx.extensions.get("viewers_may_freeze", False))


async def _status(ctx, world_id: str | None, viewers: bool = False):
    allowed = ctx.auth.is_admin or (viewers and world_id is None and _viewers_may_freeze(ctx))
    if not allowed:
        raise ConvexError(
            "this needs the admin key"
            + ("" if not viewers else " (or SMALLTOWN_VIEWERS_MAY_FREEZE=1 on the server)")
        )
    if world_id is None:
        status = await ctx.db.first("worldStatus", "isDefault", eq={"isDefault": True})
        if status is None:
            raise ConvexError("there is no default world")
    else:
        status = await ctx.db.first("worldStatus", "worldId", eq={"worldId": world_id})
        if status is None:
            raise ConvexError(f"no world {world_id!r}")
    return status


@query
async def stopAllowed(ctx) -> bool:
    """Whether this server lets viewers freeze the default world (AI Town's page shows
    its Freeze button only then)."""
    return _viewers_may_freeze(ctx)


@mutation
async def stop(ctx, worldId: str | None = None) -> None:
    status = await _status(ctx, worldId, viewers=True)
    await ctx.db.patch(status["_id"], {"status": "stoppedByDeveloper"})


@mutation
async def resume(ctx, worldId: str | None = None) -> None:
    status = await _status(ctx, worldId, viewers=True)
    await ctx.db.patch(status["_id"], {"status": "running", "lastViewed": time.time() * 1000})


@mutation
async def kick(ctx, worldId: str | None = None) -> None:
    """Wake a world and let the runner take it from its last saved step, as after a
    restart (the runner is a loop, so there is nothing else to restart)."""
    status = await _status(ctx, worldId)
    await ctx.db.patch(status["_id"], {"status": "running", "lastViewed": time.time() * 1000})
