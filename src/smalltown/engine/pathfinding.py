"""A* on the 4-neighbour tile grid, and which tiles can reach which.

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
NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def occupied_counts(positions: Iterable[tuple[float, float]]) -> dict[Tile, int]:
    """How many of ``positions`` lie within the collision distance of each tile's centre."""
    out: dict[Tile, int] = {}
    reach = math.ceil(COLLISION_DISTANCE)
    for px, py in positions:
        for tx in range(math.floor(px) - reach, math.ceil(px) + reach + 1):
            for ty in range(math.floor(py) - reach, math.ceil(py) + reach + 1):
                if math.hypot(tx - px, ty - py) < COLLISION_DISTANCE:
                    out[(tx, ty)] = out.get((tx, ty), 0) + 1
    return out


def occupied_tiles(positions: Iterable[tuple[float, float]]) -> set[Tile]:
    """Tiles whose centre lies within the collision distance of any of ``positions``."""
    return set(occupied_counts(positions))


_REGIONS: dict[tuple[int, int, bytes], list[int]] = {}  # by layout, the latest few
_REGIONS_KEPT = 16


def regions(world_map: WorldMap) -> list[int]:
    """Each tile's region (index ``y * width + x``): tiles that can walk to each other
    around the map's objects share a number; blocked tiles have -1. Worked out once a
    layout (a runner reads the map afresh every step) and kept with the map."""
    if world_map.regions_cache is not None:
        return world_map.regions_cache
    layout = world_map.layout()
    known = _REGIONS.get(layout)
    if known is not None:
        world_map.regions_cache = known
        return known
    width, height = world_map.width, world_map.height
    labels = [-1] * (width * height)
    region = 0
    for x0, y0 in world_map.free_tiles():
        if labels[y0 * width + x0] != -1:
            continue
        labels[y0 * width + x0] = region
        todo = [(x0, y0)]
        while todo:
            x, y = todo.pop()
            for dx, dy in NEIGHBOURS:
                nx, ny = x + dx, y + dy
                if (
                    0 <= nx < width
                    and 0 <= ny < height
                    and labels[ny * width + nx] == -1
                    and not world_map.blocked(nx, ny)
                ):
                    labels[ny * width + nx] = region
                    todo.append((nx, ny))
        region += 1
    world_map.regions_cache = _REGIONS[layout] = labels
    while len(_REGIONS) > _REGIONS_KEPT:
        del _REGIONS[next(iter(_REGIONS))]
    return labels


def regions_from(world_map: WorldMap, tile: Tile) -> set[int]:
    """The regions a player standing on ``tile`` can walk into: its own, or, standing
    where the map blocks (a player may always leave where it stands), its neighbours'."""
    labels, width = regions(world_map), world_map.width
    x, y = tile
    out = set()
    for dx, dy in ((0, 0), *NEIGHBOURS):
        nx, ny = x + dx, y + dy
        if world_map.inside(nx, ny) and labels[ny * width + nx] != -1:
            out.add(labels[ny * width + nx])
            if (dx, dy) == (0, 0):
                break
    return out


def nearest_free(world_map: WorldMap, goal: Tile, free: Callable[[Tile], bool]) -> Tile | None:
    """The free tile nearest ``goal`` (itself if free), searching outward ring by ring."""
    if free(goal):
        return goal
    gx, gy = goal
    for radius in range(1, max(world_map.width, world_map.height)):
        ring = [
            (gx + dx, gy + dy)
            for dx in range(-radius, radius + 1)
            for dy in range(-radius, radius + 1)
            if max(abs(dx), abs(dy)) == radius
        ]
        ring.sort(key=lambda t: ((t[0] - gx) ** 2 + (t[1] - gy) ** 2, t))
        for tile in ring:
            if free(tile):
                return tile
    return None


def find_path(
    world_map: WorldMap,
    start: Tile,
    goal: Tile,
    blocked: Callable[[Tile], bool] | None = None,
    max_expansions: int | None = None,
) -> list[Tile]:
    """Tiles from ``start`` to ``goal`` (or to the reachable tile nearest ``goal``).

    ``blocked`` adds obstacles beyond the map (other players). The start tile is never
    considered blocked: a player may always leave where it stands. A blocked goal (someone
    stands there) is replaced first by the free tile nearest to it, so the search does not
    sweep the whole map looking for a way in.
    """
    extra = blocked or (lambda tile: False)
    width, height = world_map.width, world_map.height

    def free(tile: Tile) -> bool:
        x, y = tile
        return (
            0 <= x < width and 0 <= y < height and not world_map.blocked(x, y) and not extra(tile)
        )

    target = nearest_free(world_map, goal, free) or goal
    limit = max_expansions or width * height
    gx, gy = target
    came_from: dict[Tile, Tile | None] = {start: None}
    cost: dict[Tile, int] = {start: 0}
    h0 = abs(start[0] - gx) + abs(start[1] - gy)
    frontier: list[tuple[int, int, int, Tile]] = [(h0, h0, 0, start)]
    best = start
    best_key = (math.hypot(start[0] - goal[0], start[1] - goal[1]), 0)
    order = 0
    expansions = 0
    push, pop = heapq.heappush, heapq.heappop
    while frontier and expansions < limit:
        _, _, _, tile = pop(frontier)
        expansions += 1
        if tile == target:
            best = tile
            break
        tx, ty = tile
        here = cost[tile]
        key = (math.hypot(tx - goal[0], ty - goal[1]), here)
        if key < best_key:
            best, best_key = tile, key
        for dx, dy in NEIGHBOURS:
            nxt = (tx + dx, ty + dy)
            new_cost = here + 1
            if new_cost < cost.get(nxt, 1 << 30) and free(nxt):
                cost[nxt] = new_cost
                came_from[nxt] = tile
                order += 1
                h = abs(nxt[0] - gx) + abs(nxt[1] - gy)
                # Ties: lower estimate first, then first found: deterministic.
                push(frontier, (new_cost + h, h, order, nxt))
    path = [best]
    while (parent := came_from[path[-1]]) is not None:
        path.append(parent)
    path.reverse()
    return path
