"""A* on the 4-neighbour tile grid.

A tile is blocked by the map, or by another player standing within the collision distance
of it. When the goal cannot be reached, the path leads to the reachable tile nearest to it
instead (AI Town falls back the same way), so a crowded or walled-off goal never fails a
move; it only shortens it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable

from smalltown.engine.constants import COLLISION_DISTANCE
from smalltown.engine.world_map import WorldMap

Tile = tuple[int, int]
_NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def occupied_tiles(positions: Iterable[tuple[float, float]]) -> set[Tile]:
    """Tiles whose centre lies within the collision distance of any of ``positions``."""
    out: set[Tile] = set()
    reach = math.ceil(COLLISION_DISTANCE)
    for px, py in positions:
        for tx in range(math.floor(px) - reach, math.ceil(px) + reach + 1):
            for ty in range(math.floor(py) - reach, math.ceil(py) + reach + 1):
                if math.hypot(tx - px, ty - py) < COLLISION_DISTANCE:
                    out.add((tx, ty))
    return out


def find_path(
    world_map: WorldMap,
    start: Tile,
    goal: Tile,
    blocked: Callable[[Tile], bool] | None = None,
    max_expansions: int | None = None,
) -> list[Tile]:
    """Tiles from ``start`` to ``goal`` (or to the reachable tile nearest ``goal``).

    ``blocked`` adds obstacles beyond the map (other players). The start tile is never
    considered blocked: a player may always leave where it stands.
    """
    extra = blocked or (lambda tile: False)

    def free(tile: Tile) -> bool:
        return not world_map.blocked(*tile) and not extra(tile)

    limit = max_expansions or world_map.width * world_map.height
    gx, gy = goal

    def h(tile: Tile) -> int:
        return abs(tile[0] - gx) + abs(tile[1] - gy)

    came_from: dict[Tile, Tile | None] = {start: None}
    cost: dict[Tile, int] = {start: 0}
    frontier: list[tuple[int, int, int, int, Tile]] = [(h(start), h(start), 0, 0, start)]
    best = start
    best_key = (math.hypot(start[0] - gx, start[1] - gy), 0)
    order = 0
    expansions = 0
    while frontier and expansions < limit:
        _, _, _, _, tile = heapq.heappop(frontier)
        expansions += 1
        if tile == goal:
            best = tile
            break
        key = (math.hypot(tile[0] - gx, tile[1] - gy), cost[tile])
        if key < best_key:
            best, best_key = tile, key
        for dx, dy in _NEIGHBOURS:
            nxt = (tile[0] + dx, tile[1] + dy)
            new_cost = cost[tile] + 1
            if new_cost < cost.get(nxt, 1 << 30) and free(nxt):
                cost[nxt] = new_cost
                came_from[nxt] = tile
                order += 1
                # Ties: lower estimate first, then first found: deterministic.
                heapq.heappush(frontier, (new_cost + h(nxt), h(nxt), order, 0, nxt))
    path = [best]
    while (parent := came_from[path[-1]]) is not None:
        path.append(parent)
    path.reverse()
    return path
