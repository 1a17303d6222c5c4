"""Maps: tile layers to draw, object layers that block, animated sprites.

The document form is AI Town's ``maps`` table shape (``bgTiles[layer][x][y]``,
``objectTiles[layer][x][y]``, -1 for an empty cell), so AI Town maps load as they are. Any
object cell other than -1 blocks movement; -2 is an invisible wall (a collision shape with
no tile to draw). ``import_tiled`` reads maps drawn in the Tiled editor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

EMPTY = -1
INVISIBLE_WALL = -2
_GID_FLAGS = 0xE0000000  # Tiled's flip bits in a tile id


class MapError(ValueError):
    """A map document or Tiled file that cannot be used; the message says where."""


@dataclass
class WorldMap:
    width: int
    height: int
    tile_dim: int
    tileset_url: str
    tileset_dim_x: int
    tileset_dim_y: int
    bg_tiles: list[list[list[int]]]
    object_tiles: list[list[list[int]]]
    animated_sprites: list[dict[str, Any]] = field(default_factory=list)
    _blocked: bytearray = field(default_factory=bytearray, repr=False, compare=False)
    _free: list[tuple[int, int]] = field(default_factory=list, repr=False, compare=False)
    regions_cache: list[int] | None = field(default=None, repr=False, compare=False)
    """Filled by ``pathfinding.regions`` the first time it is asked about this map."""

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise MapError(f"a map needs a positive size, got {self.width}x{self.height}")
        for kind, layers in (("bgTiles", self.bg_tiles), ("objectTiles", self.object_tiles)):
            for n, layer in enumerate(layers):
                if len(layer) != self.width or any(len(col) != self.height for col in layer):
                    raise MapError(
                        f"{kind}[{n}] must be {self.width} columns of {self.height} tiles"
                    )
        blocked = bytearray(self.width * self.height)
        for layer in self.object_tiles:
            for x, column in enumerate(layer):
                for y, tile in enumerate(column):
                    if tile != EMPTY:
                        blocked[y * self.width + x] = 1
        self._blocked = blocked
        self._free = [
            (x, y)
            for y in range(self.height)
            for x in range(self.width)
            if not blocked[y * self.width + x]
        ]

    def inside(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height

    def blocked(self, x: int, y: int) -> bool:
        """Outside the map or under an object."""
        return not self.inside(x, y) or bool(self._blocked[y * self.width + x])

    def layout(self) -> tuple[int, int, bytes]:
        """The size and which tiles block: equal for maps that walk alike."""
        return (self.width, self.height, bytes(self._blocked))

    def free_tiles(self) -> list[tuple[int, int]]:
        """Every tile no object blocks, row by row (computed once; do not modify)."""
        return self._free

    def to_document(self) -> dict[str, Any]:
        return {
            "width": float(self.width),
            "height": float(self.height),
            "tileSetUrl": self.tileset_url,
            "tileSetDimX": float(self.tileset_dim_x),
            "tileSetDimY": float(self.tileset_dim_y),
            "tileDim": float(self.tile_dim),
            "bgTiles": [[[float(t) for t in col] for col in layer] for layer in self.bg_tiles],
            "objectTiles": [
                [[float(t) for t in col] for col in layer] for layer in self.object_tiles
            ],
            "animatedSprites": [
                {k: _number(v) for k, v in sprite.items()} for sprite in self.animated_sprites
            ],
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> WorldMap:
        try:
            return cls(
                width=int(doc["width"]),
                height=int(doc["height"]),
                tile_dim=int(doc["tileDim"]),
                tileset_url=str(doc["tileSetUrl"]),
                tileset_dim_x=int(doc["tileSetDimX"]),
                tileset_dim_y=int(doc["tileSetDimY"]),
                bg_tiles=[[[int(t) for t in col] for col in layer] for layer in doc["bgTiles"]],
                object_tiles=[
                    [[int(t) for t in col] for col in layer] for layer in doc["objectTiles"]
                ],
                animated_sprites=list(doc.get("animatedSprites", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, MapError):
                raise
            raise MapError(f"not a map document: {exc!r}") from None


def _number(value: Any) -> Any:
    """Numbers as Float64, as AI Town declares a map's (``v.number()``)."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else value


def _grid(width: int, height: int, fill: int = EMPTY) -> list[list[int]]:
    return [[fill] * height for _ in range(width)]


def _properties(thing: dict[str, Any]) -> dict[str, Any]:
    return {p.get("name"): p.get("value") for p in thing.get("properties", []) or []}


def _blocks(layer: dict[str, Any]) -> bool:
    props = _properties(layer)
    if "collides" in props:
        return bool(props["collides"])
    name = str(layer.get("name", "")).lower()
    return name.startswith(("obj", "collision", "wall"))


def import_tiled(data: dict[str, Any], tileset_url: str | None = None) -> WorldMap:
    """A :class:`WorldMap` from a Tiled JSON map (orthogonal, one tileset).

    Tile layers named ``obj*``, ``collision*`` or ``wall*``, or with a boolean property
    ``collides``, block; other tile layers are background. In object layers, objects with a
    tile (``gid``) are drawn and block; shapes without one are invisible walls; objects with
    an ``animation`` property become animated sprites.
    """
    try:
        width, height = int(data["width"]), int(data["height"])
        tile_w, tile_h = int(data["tilewidth"]), int(data["tileheight"])
        tilesets: Sequence[dict[str, Any]] = data["tilesets"]
        layers = data["layers"]
    except (KeyError, TypeError, ValueError) as exc:
        raise MapError(f"not a Tiled map: missing or bad {exc}") from None
    if data.get("orientation", "orthogonal") != "orthogonal":
        raise MapError("only orthogonal Tiled maps are supported")
    if tile_w != tile_h:
        raise MapError(f"tiles must be square, got {tile_w}x{tile_h}")
    if len(tilesets) != 1:
        raise MapError(f"use exactly one tileset (embedded), found {len(tilesets)}")
    tileset = tilesets[0]
    if "image" not in tileset:
        raise MapError("embed the tileset in the map (Tiled: Map > Embed Tilesets)")
    first_gid = int(tileset.get("firstgid", 1))

    def tile_of(gid: int) -> int:
        gid &= ~_GID_FLAGS
        return EMPTY if gid == 0 else gid - first_gid

    bg: list[list[list[int]]] = []
    objects: list[list[list[int]]] = []
    sprites: list[dict[str, Any]] = []
    for layer in _flatten(layers):
        kind = layer.get("type")
        if kind == "tilelayer":
            cells = layer.get("data")
            if not isinstance(cells, list) or len(cells) != width * height:
                raise MapError(
                    f"layer {layer.get('name')!r}: expected {width * height} tiles "
                    "(save the map as JSON with CSV or array layer data, not compressed)"
                )
            grid = _grid(width, height)
            for i, gid in enumerate(cells):
                grid[i % width][i // width] = tile_of(int(gid))
            (objects if _blocks(layer) else bg).append(grid)
        elif kind == "objectgroup":
            grid = _grid(width, height)
            used = False
            for obj in layer.get("objects", []):
                props = _properties(obj)
                x0, y0 = float(obj.get("x", 0)), float(obj.get("y", 0))
                w, h = float(obj.get("width", 0)), float(obj.get("height", 0))
                if "gid" in obj:
                    y0 -= h  # tile objects are anchored at their bottom-left corner
                if "animation" in props:
                    sprites.append(
                        {
                            "x": x0,
                            "y": y0,
                            "w": w,
                            "h": h,
                            "layer": float(len(bg)),
                            "sheet": str(props.get("sheet", "")),
                            "animation": str(props["animation"]),
                        }
                    )
                    continue
                value = tile_of(int(obj["gid"])) if "gid" in obj else INVISIBLE_WALL
                for tx in range(int(x0 // tile_w), int(-(-(x0 + w) // tile_w))):
                    for ty in range(int(y0 // tile_h), int(-(-(y0 + h) // tile_h))):
                        if 0 <= tx < width and 0 <= ty < height:
                            grid[tx][ty] = value
                            used = True
            if used:
                objects.append(grid)
    if not bg:
        bg.append(_grid(width, height))
    columns = int(tileset.get("columns") or int(tileset["imagewidth"]) // tile_w)
    return WorldMap(
        width=width,
        height=height,
        tile_dim=tile_w,
        tileset_url=tileset_url or str(tileset["image"]),
        tileset_dim_x=int(tileset.get("imagewidth", columns * tile_w)),
        tileset_dim_y=int(tileset.get("imageheight", 0)),
        bg_tiles=bg,
        object_tiles=objects,
        animated_sprites=sprites,
    )


def _flatten(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tiled groups hold layers; draw order is depth first."""
    out = []
    for layer in layers:
        if layer.get("type") == "group":
            out += _flatten(layer.get("layers", []))
        elif layer.get("visible", True) or _blocks(layer):
            out.append(layer)
    return out
