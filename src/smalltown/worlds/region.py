"""What a viewer sees of a part of the map, and of the whole town when zoomed out.

A page that followed every player would, in a town of a thousand, hold a thousand live
queries and receive every walker's path wherever it looks. Instead it follows the part of
the map on screen: rectangles of tiles (the page cuts its view into a coarse grid, so a
small pan changes nothing and a larger one adds or drops a few cells at the edge). A
rectangle's value is the players in it, each as :func:`smalltown.worlds.view.player_view`
gives them, and the conversations they are in. A walker counts as in a rectangle while
the path it walks crosses it (so from the moment it sets off until it stops), a standing
player while it stands there: the value changes when someone in or bound for
the rectangle sets off, stops, takes up an activity or talks — not while they walk, and
not when anyone elsewhere does.

Zoomed out, a page asks for the :func:`overview`: every player's place, rounded, in one
small value it fetches every few seconds and draws as dots.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from smalltown.worlds.view import conversation_view, player_view

#: the largest rectangle a region query answers, in tiles (a page asks for far less)
MAX_REGION_TILES = 256 * 256
#: how far from the origin a rectangle may lie, in tiles
MAX_COORDINATE = 100_000
#: players asked for by id beside a rectangle (the selected one and the viewer's own)
MAX_INCLUDED = 16


class RegionError(ValueError):
    """A rectangle that is not one: not finite, not positive, too large or too far."""


def check_rectangle(x: Any, y: Any, width: Any, height: Any) -> tuple[float, ...]:
    """The rectangle as four floats, or :class:`RegionError` saying what is wrong."""
    values = {"x": x, "y": y, "width": width, "height": height}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RegionError(f"{name} must be a number of tiles, got {value!r}")
        if not math.isfinite(value):
            raise RegionError(f"{name} must be a finite number of tiles, got {value!r}")
        if abs(value) > MAX_COORDINATE:
            raise RegionError(f"{name} must lie within {MAX_COORDINATE} tiles, got {value!r}")
    if width <= 0 or height <= 0:
        raise RegionError(f"width and height must be positive, got {width!r} x {height!r}")
    if width * height > MAX_REGION_TILES:
        raise RegionError(
            f"a region covers at most {MAX_REGION_TILES} tiles, got {width!r} x {height!r}"
            " (zoomed out, ask for the overview)"
        )
    return float(x), float(y), float(width), float(height)


def _in_region(player: dict[str, Any], rect: tuple[float, ...]) -> bool:
    x, y, width, height = rect
    pathfinding = player.get("pathfinding")
    state = pathfinding["state"] if pathfinding else {}
    path = state.get("path") if state.get("kind") == "moving" else None
    if path:
        right, bottom = x + width, y + height
        if len(path) == 1:
            return x <= path[0][0] < right and y <= path[0][1] < bottom
        for a, b in itertools.pairwise(path):  # straight legs between waypoints
            if (
                min(a[0], b[0]) < right
                and max(a[0], b[0]) >= x
                and min(a[1], b[1]) < bottom
                and max(a[1], b[1]) >= y
            ):
                return True
        return False
    at = player["position"]
    return x <= at["x"] < x + width and y <= at["y"] < y + height


def region_view(
    world: dict[str, Any], rect: tuple[float, ...] | None, include: list[str] | None = None
) -> dict[str, Any]:
    """The players in ``rect`` (and those in ``include``, wherever they are), in the world's
    order, and the conversations any of them is in."""
    wanted = set(include or ())
    players = [
        p
        for p in world.get("players", [])
        if p["id"] in wanted or (rect is not None and _in_region(p, rect))
    ]
    ids = {p["id"] for p in players}
    conversations = [
        conversation_view(c)
        for c in world.get("conversations", [])
        if any(part["playerId"] in ids for part in c["participants"])
    ]
    return {"players": [_rounded(player_view(p)) for p in players], "conversations": conversations}


def _rounded(view: dict[str, Any]) -> dict[str, Any]:
    """A player's view with its places and facing to a thousandth (of a tile): the engine's
    sums leave tails like ``38.00000000000056`` that cost bytes and draw nothing."""
    if "position" in view:
        view["position"] = {k: round(v, 3) for k, v in view["position"].items()}
    if "facing" in view:
        view["facing"] = {k: round(v, 3) for k, v in view["facing"].items()}
    if "path" in view:
        view["path"] = [[round(x, 3), round(y, 3), dx, dy, t] for x, y, dx, dy, t in view["path"]]
    return view


def players_view(world: dict[str, Any], include: list[str]) -> dict[str, Any]:
    """Only the players named (those still here) and their conversations."""
    return region_view(world, None, include)


def overview(world: dict[str, Any], current_time: float) -> dict[str, Any]:
    """Every player's place now, to a tenth of a tile, as flat lists (ids, then x and y in
    turn): a thousand residents in about 20 KB, for a page zoomed out to draw as dots."""
    ids: list[str] = []
    places: list[float] = []
    for player in world.get("players", []):
        ids.append(player["id"])
        places.append(round(player["position"]["x"], 1))
        places.append(round(player["position"]["y"], 1))
    return {"time": current_time, "ids": ids, "xy": places}
