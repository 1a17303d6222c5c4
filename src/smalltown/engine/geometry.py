"""Points and directions on the tile grid (floats: players move between tiles)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float

    def distance(self, other: Point) -> float:
        return math.hypot(self.x - other.x, self.y - other.y)

    def tile(self) -> tuple[int, int]:
        return (math.floor(self.x + 0.5), math.floor(self.y + 0.5))

    def as_dict(self) -> dict[str, float]:
        return {"x": float(self.x), "y": float(self.y)}


@dataclass(frozen=True, slots=True)
class Facing:
    dx: float
    dy: float

    def as_dict(self) -> dict[str, float]:
        return {"dx": float(self.dx), "dy": float(self.dy)}


DOWN = Facing(0.0, 1.0)


def facing_between(a: Point, b: Point, default: Facing = DOWN) -> Facing:
    """The unit direction from ``a`` to ``b`` (``default`` when they coincide)."""
    dx, dy = b.x - a.x, b.y - a.y
    length = math.hypot(dx, dy)
    if length < 1e-9:
        return default
    return Facing(dx / length, dy / length)


def midpoint(a: Point, b: Point) -> Point:
    return Point((a.x + b.x) / 2, (a.y + b.y) / 2)
