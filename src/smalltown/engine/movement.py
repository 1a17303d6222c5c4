"""Walking: plan a path when needed, follow it in time, stop short of other players."""

from __future__ import annotations

import bisect
import functools
import math
from collections import defaultdict

from smalltown.engine.constants import (
    COLLISION_DISTANCE,
    PATHFINDING_BACKOFF_MS,
    PATHFINDING_TIMEOUT_MS,
    SPEED_TILES_PER_S,
)
from smalltown.engine.context import StepContext
from smalltown.engine.geometry import Facing, Point
from smalltown.engine.pathfinding import Tile, find_path
from smalltown.engine.state import Pathfinding, Player

MS_PER_TILE = 1000.0 / SPEED_TILES_PER_S


def walk_to(player: Player, destination: Point, now: float) -> None:
    player.pathfinding = Pathfinding(destination=destination, started=now)
    player.activity = None


def stop(player: Player) -> None:
    player.pathfinding = None
    player.speed = 0.0


def tick_movement(ctx: StepContext, now: float) -> None:
    ctx.walked = []
    for player in list(ctx.world.players.values()):
        pf = player.pathfinding
        if pf is None:
            continue
        ctx.walked.append(player)
        if now - pf.started > PATHFINDING_TIMEOUT_MS:
            stop(player)
            continue
        if pf.kind == "waiting" and now >= pf.until:
            pf.kind = "needsPath"
        if pf.kind == "needsPath" and ctx.pathfinds_left > 0:
            ctx.pathfinds_left -= 1
            if ctx.world.conversation_of(player.id) is not None:
                ctx.meeting_searches += 1
            _plan(ctx, player, pf, now)
        if pf.kind == "moving":
            _advance(ctx, player, pf, now, crowd(ctx))


def crowd(ctx: StepContext) -> dict[Tile, list[Player]]:
    """Who stands in which tile-sized cell (``floor`` of the position): built once a
    step, when first asked, and kept up to date as players move (only walking moves them
    within a step)."""
    if ctx.grid is None:
        ctx.grid = defaultdict(list)
        for p in ctx.world.players.values():
            ctx.grid[(math.floor(p.position.x), math.floor(p.position.y))].append(p)
    return ctx.grid


def someone_near(ctx: StepContext, tile: Tile, *but: Player) -> bool:
    """Whether a player other than ``but`` stands within the collision distance of the
    centre of ``tile``: then it blocks the tile."""
    grid, (tx, ty) = crowd(ctx), tile
    for cell in ((tx - 1, ty - 1), (tx - 1, ty), (tx, ty - 1), (tx, ty)):
        for p in grid.get(cell, ()):
            if p not in but and math.hypot(p.position.x - tx, p.position.y - ty) < (
                COLLISION_DISTANCE
            ):
                return True
    return False


def _plan(ctx: StepContext, player: Player, pf: Pathfinding, now: float) -> None:
    start = player.position.tile()
    goal = (round(pf.destination.x), round(pf.destination.y))
    tiles = find_path(
        ctx.world_map, start, goal, blocked=functools.cache(lambda t: someone_near(ctx, t, player))
    )
    if len(tiles) <= 1 and player.position.distance(Point(*start)) < 1e-6:
        stop(player)  # already there, or nowhere to go
        return
    # From where the player stands along the tiles; when the goal is the tile it stands
    # on, to that tile's centre (not nowhere).
    waypoints = [(player.position.x, player.position.y)] + [
        (float(x), float(y)) for x, y in (tiles[1:] or tiles)
    ]
    path = []
    t = now
    for i, (x, y) in enumerate(waypoints):
        if i > 0:
            px, py = waypoints[i - 1]
            t += MS_PER_TILE * (abs(x - px) + abs(y - py))
        nx, ny = waypoints[min(i + 1, len(waypoints) - 1)]
        dx, dy = _unit(nx - x, ny - y) if i + 1 < len(waypoints) else (0.0, 0.0)
        path.append((x, y, dx, dy, t))
    if path[-1][2:4] == (0.0, 0.0) and len(path) > 1:
        last, before = path[-1], path[-2]
        path[-1] = (last[0], last[1], before[2], before[3], last[4])
    pf.kind, pf.path = "moving", path
    pf.destination = Point(*waypoints[-1])  # the goal, or the reachable tile nearest it


Waypoint = tuple[float, float, float, float, float]  # x, y, dx, dy, time


def _time(waypoint: Waypoint) -> float:
    return waypoint[4]


def _unit(dx: float, dy: float) -> tuple[float, float]:
    """The direction of ``(dx, dy)`` as a unit vector (a facing, as AI Town's page takes
    it: from a spot between tiles the first leg may run slantwise); ``(0, 0)`` for none."""
    length = math.hypot(dx, dy)
    return (0.0, 0.0) if length < 1e-9 else (dx / length, dy / length)


def _ahead(ctx: StepContext, player: Player, path: list[Waypoint], now: float) -> int:
    """The index of the first waypoint still ahead at ``now`` (before the last one's
    time): found by bisection once a step, then walked forward tick by tick."""
    hint = ctx.cursors.get(player.id)
    if hint is not None and hint[0] is path:
        i = hint[1]
        while path[i][4] <= now:
            i += 1
    else:
        i = max(1, bisect.bisect_right(path, now, key=_time))
    ctx.cursors[player.id] = (path, i)
    return i


def _advance(
    ctx: StepContext,
    player: Player,
    pf: Pathfinding,
    now: float,
    grid: dict[Tile, list[Player]],
) -> None:
    path = pf.path
    last = path[-1]
    if now >= last[4]:
        x, y, dx, dy = last[0], last[1], last[2], last[3]
    else:
        i = _ahead(ctx, player, path, now)
        a, b = path[i - 1], path[i]
        span = b[4] - a[4]
        f = 0.0 if span <= 0 else (now - a[4]) / span
        x, y, dx, dy = a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2], a[3]
    px, py = player.position.x, player.position.y
    hypot, floor, reach = math.hypot, math.floor, COLLISION_DISTANCE
    # Only the cells within the collision distance of the target (2 x 2 at most).
    for gx in range(floor(x - reach), floor(x + reach) + 1):
        for gy in range(floor(y - reach), floor(y + reach) + 1):
            for other in grid.get((gx, gy), ()):
                if other is player:
                    continue
                ox, oy = other.position.x, other.position.y
                gap = hypot(ox - x, oy - y)
                # Someone is in the way (and we would be getting closer): stand still a
                # moment, then plan around them.
                if gap < COLLISION_DISTANCE and gap < hypot(ox - px, oy - py):
                    pf.kind = "waiting"
                    pf.until = now + ctx.rng.random() * PATHFINDING_BACKOFF_MS
                    player.speed = 0.0
                    return
    player.position = Point(x, y)
    cell, moved_to = (floor(px), floor(py)), (floor(x), floor(y))
    if moved_to != cell:
        grid[cell].remove(player)
        grid[moved_to].append(player)
    if (dx, dy) != (0.0, 0.0):
        player.facing = Facing(dx, dy)
    if now >= last[4]:
        stop(player)
    else:
        player.speed = SPEED_TILES_PER_S
