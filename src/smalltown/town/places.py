"""The town's named places, where residents' day plans send them.

The default map (``defaults.town_map``) has its own: the fountain, the market, the pond and
the rest, each a walkable tile. Any other map (an AI Town map, a Tiled one) gets places
found on it: its middle and its four quarters, each the free tile nearest that point.
"""

from __future__ import annotations

from smalltown.engine.pathfinding import nearest_free
from smalltown.engine.world_map import WorldMap
from smalltown.town.defaults import HEIGHT, WIDTH

#: the default town's places: (name, x, y), a walkable tile each
PLACES = (
    ("the fountain", 22, 14),
    ("the market", 27, 12),
    ("the square benches", 19, 18),
    ("the bakery", 13, 8),
    ("the library", 33, 8),
    ("the clock shop", 40, 8),
    ("the blue house", 6, 8),
    ("the school", 6, 25),
    ("the lane cottage", 13, 25),
    ("the garden", 18, 25),
    ("the pond", 38, 20),
    ("the copse", 29, 25),
    ("the main street", 9, 16),
)
_QUARTERS = (
    ("the middle of town", 0.5, 0.5),
    ("the north-west corner", 0.25, 0.25),
    ("the north-east corner", 0.75, 0.25),
    ("the south-west corner", 0.25, 0.75),
    ("the south-east corner", 0.75, 0.75),
)


def places_for(world_map: WorldMap) -> list[dict[str, float | str]]:
    """The places of ``world_map``: the default town's when it is the default town,
    else places found on it (none when it has no free tile)."""
    if (world_map.width, world_map.height) == (WIDTH, HEIGHT) and not any(
        world_map.blocked(x, y) for _, x, y in PLACES
    ):
        return [{"name": name, "x": float(x), "y": float(y)} for name, x, y in PLACES]
    out: list[dict[str, float | str]] = []
    seen = set()
    for name, fx, fy in _QUARTERS:
        goal = (int(world_map.width * fx), int(world_map.height * fy))
        tile = nearest_free(world_map, goal, lambda t: not world_map.blocked(*t))
        if tile is not None and tile not in seen:
            seen.add(tile)
            out.append({"name": name, "x": float(tile[0]), "y": float(tile[1])})
    return out
