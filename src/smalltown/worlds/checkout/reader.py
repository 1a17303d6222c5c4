"""An AI Town checkout read into a town: its characters, their sprite sheets, its map, and
every image they use, all checked before anything is written.

What is read, and where (AI Town's layout):

- ``data/characters.ts``: ``Descriptions`` (name, character, identity, plan) and
  ``characters`` (name, textureUrl, spritesheetData, speed), and ``movementSpeed``.
- The map module: the one ``convex/init.ts`` imports as ``map`` (``import * as map from
  '../data/gentle'``), else ``data/gentle.js``: ``tilesetpath``, ``tiledim``,
  ``tilesetpxw``/``tilesetpxh``, ``bgtiles``, ``objmap``, ``animatedsprites``, and
  ``mapwidth``/``mapheight``.
- Animated sprites' sheets: ``data/animations/<sheet>``, whose ``meta.image`` is relative
  to the tile set's folder (``public/assets/spritesheets/...``), or a URL path.
- Images by URL (``/ai-town/assets/x.png``): the file under ``public/`` at that path, or at
  that path without its first folder (the site's base path, ``/ai-town``).

Every problem is a :class:`CheckoutError` of one line naming the file and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smalltown.engine.world_map import MapError, WorldMap
from smalltown.worlds.checkout.js_data import CheckoutError, Modules

CHARACTERS = Path("data/characters.ts")
DEFAULT_MAP = Path("data/gentle.js")
INIT = Path("convex/init.ts")
ANIMATIONS = Path("data/animations")
PUBLIC = Path("public")
#: the animations a character's sheet needs: the page walks them by facing
FACINGS = ("left", "right", "up", "down")
_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


@dataclass
class Image:
    path: Path
    content_type: str


@dataclass
class Sheet:
    """A sprite sheet: frames (rectangles of its image by name), animations (frame names in
    order), and the image."""

    frames: dict[str, dict[str, float]]
    animations: dict[str, list[str]]
    image: Image

    def to_json(self, image_url: str) -> dict[str, Any]:
        """The sheet as the page reads it, its image at ``image_url``."""
        frames = {name: {"frame": rect} for name, rect in self.frames.items()}
        return {"frames": frames, "animations": self.animations, "meta": {"image": image_url}}


@dataclass
class Character:
    name: str
    character: str
    identity: str
    plan: str


@dataclass
class Look:
    """A character sprite (``characters`` in characters.ts) and its animation speed."""

    name: str
    sheet: Sheet
    speed: float


@dataclass
class Town:
    characters: list[Character]
    looks: list[Look]
    map: WorldMap  # its tile set and sheets named as in the checkout, until stored
    tileset: Image
    sheets: dict[str, Sheet] = field(default_factory=dict)  # animated sprites', by name
    movement_speed: float | None = None
    files_read: list[str] = field(default_factory=list)


def read_checkout(root: Path) -> Town:
    """The town an AI Town checkout describes; raises :class:`CheckoutError`."""
    root = root.resolve()
    if not root.is_dir():
        raise CheckoutError(f"{root}: expected an AI Town checkout (a folder), found none")
    modules = Modules(root)
    characters_ts = root / CHARACTERS
    if not characters_ts.is_file():
        raise CheckoutError(f"{CHARACTERS}: expected AI Town's characters module, found no file")
    reader = _Reader(root, modules)
    looks = reader.looks(characters_ts)
    characters = reader.characters(characters_ts, {look.name for look in looks})
    exported = modules.module(characters_ts).exports
    movement = (
        modules.export(characters_ts, "movementSpeed") if "movementSpeed" in exported else None
    )
    map_path = reader.map_module()
    world_map, tileset, sheets = reader.world_map(map_path)
    return Town(
        characters=characters,
        looks=looks,  # all of them: a person joining may wear one no resident does
        map=world_map,
        tileset=tileset,
        sheets=sheets,
        movement_speed=float(movement) if isinstance(movement, (int, float)) else None,
        files_read=sorted(modules.where(p) for p in modules._modules),
    )


class _Reader:
    def __init__(self, root: Path, modules: Modules) -> None:
        self.root = root
        self.modules = modules
        self.images: dict[Path, Image] = {}

    def where(self, path: Path) -> str:
        return self.modules.where(path)

    # --- characters ---------------------------------------------------------------------

    def characters(self, path: Path, looks: set[str]) -> list[Character]:
        where = self.where(path)
        raw = self.modules.export(path, "Descriptions")
        if not isinstance(raw, list) or not raw:
            raise CheckoutError(f"{where}: expected Descriptions to be a list of characters")
        out: list[Character] = []
        for n, entry in enumerate(raw):
            item = f"{where}: Descriptions[{n}]"
            if not isinstance(entry, dict):
                raise CheckoutError(f"{item}: expected {{name, character, identity, plan}}")
            for key in ("name", "character", "identity", "plan"):
                if not isinstance(entry.get(key), str) or not entry[key].strip():
                    raise CheckoutError(f"{item}: expected {key} to be a non-empty string")
            if entry["character"] not in looks:
                raise CheckoutError(
                    f"{item}: expected character {entry['character']!r} to be one of "
                    f"characters' names ({', '.join(sorted(looks))})"
                )
            if any(c.name == entry["name"] for c in out):
                raise CheckoutError(
                    f"{item}: expected a name of its own, {entry['name']!r} is taken"
                )
            out.append(
                Character(entry["name"], entry["character"], entry["identity"], entry["plan"])
            )
        return out

    def looks(self, path: Path) -> list[Look]:
        where = self.where(path)
        raw = self.modules.export(path, "characters")
        if not isinstance(raw, list):
            raise CheckoutError(f"{where}: expected characters to be a list of sprites")
        out = []
        for n, entry in enumerate(raw):
            item = f"{where}: characters[{n}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise CheckoutError(
                    f"{item}: expected {{name, textureUrl, spritesheetData, speed}}"
                )
            url = entry.get("textureUrl")
            if not isinstance(url, str):
                raise CheckoutError(f"{item}: expected textureUrl to be a string")
            image = self.image_at_url(url, f"{item}'s textureUrl")
            sheet = self.sheet(entry.get("spritesheetData"), image, f"{item}: spritesheetData")
            missing = [f for f in FACINGS if f not in sheet.animations]
            if missing:
                raise CheckoutError(
                    f"{item}: expected spritesheetData.animations {', '.join(FACINGS)}; "
                    f"missing {', '.join(missing)}"
                )
            speed = entry.get("speed", 0.1)
            if not isinstance(speed, (int, float)) or isinstance(speed, bool) or speed <= 0:
                raise CheckoutError(f"{item}: expected speed to be a positive number")
            out.append(Look(entry["name"], sheet, float(speed)))
        return out

    # --- the map ------------------------------------------------------------------------

    def map_module(self) -> Path:
        """The module convex/init.ts imports as its map, else data/gentle.js."""
        init = self.root / INIT
        if init.is_file():
            for local, name, source in self.modules.imports(init):
                if local == "map" and name == "*":
                    return self.modules.resolve(init, source)
        path = self.root / DEFAULT_MAP
        if not path.is_file():
            raise CheckoutError(f"{DEFAULT_MAP}: expected AI Town's map module, found no file")
        return path

    def world_map(self, path: Path) -> tuple[WorldMap, Image, dict[str, Sheet]]:
        where = self.where(path)

        def number(name: str) -> int:
            value = self.modules.export(path, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise CheckoutError(f"{where}: expected {name} to be a positive number")
            return int(value)

        tileset_url = self.modules.export(path, "tilesetpath")
        if not isinstance(tileset_url, str):
            raise CheckoutError(f"{where}: expected tilesetpath to be a string")
        tileset = self.image_at_url(tileset_url, f"{where}'s tilesetpath")
        layers = {name: self.modules.export(path, name) for name in ("bgtiles", "objmap")}
        for name, value in layers.items():
            if not _is_grid(value):
                raise CheckoutError(
                    f"{where}: expected {name} to be layers of columns of tile numbers"
                )
        sprites = self.modules.export(path, "animatedsprites")
        if not isinstance(sprites, list):
            raise CheckoutError(f"{where}: expected animatedsprites to be a list")
        sheets: dict[str, Sheet] = {}
        out_sprites = []
        for n, sprite in enumerate(sprites):
            item = f"{where}: animatedsprites[{n}]"
            ok = isinstance(sprite, dict) and all(
                isinstance(sprite.get(k), (int, float)) for k in ("x", "y", "w", "h")
            )
            if not ok or not isinstance(sprite.get("sheet"), str):
                raise CheckoutError(f"{item}: expected {{x, y, w, h, layer, sheet, animation}}")
            name = sprite["sheet"]
            if name not in sheets:
                sheets[name] = self.animation_sheet(name, tileset, item)
            animation = sprite.get("animation")
            if animation not in sheets[name].animations:
                raise CheckoutError(
                    f"{item}: expected animation {animation!r} to be in {ANIMATIONS / name}"
                )
            out_sprites.append({**sprite, "layer": float(sprite.get("layer", 0))})
        try:
            world_map = WorldMap(
                width=number("mapwidth"),
                height=number("mapheight"),
                tile_dim=number("tiledim"),
                tileset_url=tileset_url,
                tileset_dim_x=number("tilesetpxw"),
                tileset_dim_y=number("tilesetpxh"),
                bg_tiles=[[[int(t) for t in col] for col in layer] for layer in layers["bgtiles"]],
                object_tiles=[
                    [[int(t) for t in col] for col in layer] for layer in layers["objmap"]
                ],
                animated_sprites=out_sprites,
            )
        except MapError as exc:
            raise CheckoutError(f"{where}: expected a map: {exc}") from None
        return world_map, tileset, sheets

    def animation_sheet(self, name: str, tileset: Image, item: str) -> Sheet:
        path = self.root / ANIMATIONS / name
        if "/" in name or "\\" in name or not path.is_file():
            raise CheckoutError(
                f"{ANIMATIONS / name}: expected the sheet {item} names, found no file"
            )
        data = self.modules.module(path)._values.get("default")
        where = self.where(path)
        meta = data.get("meta") if isinstance(data, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("image"), str):
            raise CheckoutError(f"{where}: expected meta.image, the sheet's image")
        if meta["image"].startswith("/"):  # a URL path, as textureUrl is
            image = self.image_at_url(meta["image"], f"{where}'s meta.image")
        else:
            image_path = (tileset.path.parent / meta["image"]).resolve()
            image = self.image(image_path, f"the image {where} names")
        return self.sheet(data, image, where)

    # --- sheets and images --------------------------------------------------------------

    def sheet(self, data: Any, image: Image, where: str) -> Sheet:
        if not isinstance(data, dict) or not isinstance(data.get("frames"), dict):
            raise CheckoutError(f"{where}: expected sprite sheet data with frames")
        frames: dict[str, dict[str, float]] = {}
        for name, entry in data["frames"].items():
            rect = entry.get("frame") if isinstance(entry, dict) else None
            if not isinstance(rect, dict) or not all(
                isinstance(rect.get(k), (int, float)) for k in ("x", "y", "w", "h")
            ):
                raise CheckoutError(f"{where}: expected frame {name!r} to have x, y, w and h")
            frames[name] = {k: float(rect[k]) for k in ("x", "y", "w", "h")}
        animations = data.get("animations") or {}
        if not isinstance(animations, dict):
            raise CheckoutError(f"{where}: expected animations to map names to frame lists")
        for name, names in animations.items():
            if not isinstance(names, list) or not names or any(f not in frames for f in names):
                raise CheckoutError(
                    f"{where}: expected animation {name!r} to list frames the sheet has"
                )
        return Sheet(frames, {k: list(v) for k, v in animations.items()}, image)

    def image_at_url(self, url: str, item: str) -> Image:
        """The file under public/ a URL path names (with or without the site's base)."""
        parts = [p for p in url.split("?")[0].split("/") if p and p != "."]
        if ".." in parts or not parts or "://" in url:
            raise CheckoutError(f"{item}: expected a path under the site, found {url!r}")
        tried = [self.root / PUBLIC / Path(*parts)]
        if len(parts) > 1:
            tried.append(self.root / PUBLIC / Path(*parts[1:]))
        for path in tried:
            if path.is_file():
                return self.image(path, item)
        raise CheckoutError(
            f"{self.where(tried[-1])}: expected the image {item} names ({url}), found no file"
        )

    def image(self, path: Path, item: str) -> Image:
        path = path.resolve()
        if path in self.images:
            return self.images[path]
        where = self.where(path)
        if not path.is_relative_to(self.root):
            raise CheckoutError(f"{where}: expected {item} to be inside the checkout")
        try:
            with path.open("rb") as f:
                head = f.read(32)
        except OSError:
            raise CheckoutError(f"{where}: expected {item}, found no file") from None
        kind = next((t for sig, t in _SIGNATURES.items() if head.startswith(sig)), None)
        if kind is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            kind = "image/webp"
        if kind is None:
            found = (
                "a Git LFS pointer"
                if head.startswith(b"version https://git-lfs")
                else (f"{path.stat().st_size} bytes of something else")
            )
            raise CheckoutError(
                f"{where}: expected {item}, a PNG, JPEG, GIF or WebP image; found {found}"
            )
        self.images[path] = Image(path, kind)
        return self.images[path]


def _is_grid(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(layer, list)
        and all(
            isinstance(col, list)
            and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in col)
            for col in layer
        )
        for layer in value
    )
