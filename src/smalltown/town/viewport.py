"""``viewport:*``: what a page shows of a world, following only the part of it on screen.

``viewport:region`` is one rectangle of the map (the page asks for one per cell of a
coarse grid over its view) with the players in it and their conversations;
``viewport:players`` the few players open in the page's panels, wherever they are;
``viewport:overview`` every player's place, rounded, for a page zoomed out too far to
follow rectangles (it fetches it every few seconds rather than following it). The shapes
are :mod:`smalltown.worlds.region`'s.
"""

from __future__ import annotations

from typing import Any

from smalltown.runtime import ConvexError, query
from smalltown.worlds.parts import world_document
from smalltown.worlds.region import (
    MAX_INCLUDED,
    RegionError,
    check_rectangle,
    players_view,
    region_view,
)
from smalltown.worlds.region import (
    overview as overview_view,
)

#: what a region's players and conversations are read from
SHOWN = ("players", "conversations")


async def _world(ctx, world_id: str) -> dict[str, Any]:
    status = await ctx.db.first("worldStatus", "worldId", eq={"worldId": world_id})
    if status is None:
        raise ConvexError(f"no world {world_id!r}")
    return status


def _include(ids: list[str]) -> list[str]:
    if len(ids) > MAX_INCLUDED:
        raise ConvexError(f"at most {MAX_INCLUDED} players by id, got {len(ids)}")
    return ids


@query
async def region(
    ctx,
    worldId: str,
    x: float,
    y: float,
    width: float,
    height: float,
    include: list[str] | None = None,
) -> dict[str, Any]:
    """The players in the rectangle of tiles ``x, y, width, height`` (a walker while its
    path touches it) and those in ``include``, with the conversations they are in."""
    try:
        rect = check_rectangle(x, y, width, height)
    except RegionError as exc:
        raise ConvexError(f"bad region: {exc}") from None
    wanted = _include(include or [])
    await _world(ctx, worldId)
    return region_view(await world_document(ctx.db, worldId, SHOWN), rect, wanted)


@query
async def players(ctx, worldId: str, playerIds: list[str]) -> dict[str, Any]:
    """The players named (those still here) and the conversations they are in."""
    wanted = _include(playerIds)
    await _world(ctx, worldId)
    return players_view(await world_document(ctx.db, worldId, SHOWN), wanted)


@query
async def overview(ctx, worldId: str) -> dict[str, Any]:
    """Every player's place to a tenth of a tile, and the game time it was taken at."""
    status = await _world(ctx, worldId)
    engine = await ctx.db.get(status["engineId"], table="engines")
    world = await world_document(ctx.db, worldId, ("players",))
    return overview_view(world, engine["currentTime"])
