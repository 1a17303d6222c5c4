"""A small AI Town checkout of our own, written into a test's folder: AI Town's module
shapes (characters.ts with its sprite sheet modules, a map module as convex/init.ts names
it, an animation sheet) with our own characters, map and images.

The images are solid colours, each distinct, so a test reading the page's canvas can tell
a tile, a resident's facing and frame, and the animated sprite apart.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

TILE = 32
#: the tile set: tile 0 grass, tile 1 path, tile 2 a wall (on the object layer)
TILE_COLOURS = [(40, 200, 60), (210, 180, 90), (90, 60, 200)]
#: a sprite's frames: one row a facing (down, left, right, up), three frames a row, a
#: colour each; the second character's are the same shifted
FACINGS = ("down", "left", "right", "up")
SPARKLE = [(255, 255, 0), (0, 255, 255)]
MAP_W, MAP_H = 12, 8
CHARACTERS = [
    (
        "Quill",
        "f1",
        "Quill restores old maps and talks to them when nobody listens.",
        "You want to find the street missing from every map.",
    ),
    (
        "Moss",
        "f2",
        "Moss keeps pigeons on the roof and names each after a weather.",
        "You want someone to help paint the loft.",
    ),
    (
        "Tansy",
        "f1",
        "Tansy sells lemonade and negotiates like a diplomat.",
        "You want to open a second stand by the bridge.",
    ),
]


def frame_colour(sheet: int, facing: int, frame: int) -> tuple[int, int, int]:
    return (30 + 100 * sheet + 10 * frame, 40 + 50 * facing, 250 - 60 * sheet - 20 * frame)


def png(width: int, height: int, pixel) -> bytes:
    """A PNG of ``pixel(x, y) -> (r, g, b)``, written here (no imaging library)."""
    raw = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def characters_ts(characters=CHARACTERS) -> str:
    descriptions = "\n".join(
        f"  {{\n    name: '{name}',\n    character: '{look}',\n"
        f"    identity: `{identity}`,\n    plan: '{plan}',\n  }},"
        for name, look, identity, plan in characters
    )
    return f"""import {{ data as f1SpritesheetData }} from './spritesheets/f1';
import {{ data as f2SpritesheetData }} from './spritesheets/f2';

export const Descriptions = [
  // a character left out, as people do
  // {{ name: 'Nobody', character: 'f2', identity: 'x', plan: 'y' }},
{descriptions}
];

export const characters = [
  {{
    name: 'f1',
    textureUrl: '/ai-town/assets/folk.png',
    spritesheetData: f1SpritesheetData,
    speed: 0.1,
  }},
  {{
    name: 'f2',
    textureUrl: '/ai-town/assets/folk.png',
    spritesheetData: f2SpritesheetData,
    speed: 0.2,
  }},
];

// Residents walk this many tiles a second.
export const movementSpeed = 0.75;
"""


def spritesheet_ts(sheet: int) -> str:
    frames, animations = [], []
    for row, facing in enumerate(FACINGS):
        names = []
        for n in range(3):
            name = facing if n == 0 else f"{facing}{n + 1}"
            names.append(f"'{name}'")
            x, y = (sheet * 3 + n) * TILE, row * TILE
            frames.append(
                f"    {name}: {{\n      frame: {{ x: {x}, y: {y}, w: 32, h: 32 }},\n"
                "      sourceSize: { w: 32, h: 32 },\n"
                "      spriteSourceSize: { x: 0, y: 0 },\n    },"
            )
        animations.append(f"    {facing}: [{', '.join(names)}],")
    return (
        "import { SpritesheetData } from './types';\n\n"
        "export const data: SpritesheetData = {\n  frames: {\n"
        + "\n".join(frames)
        + "\n  },\n  meta: {\n    scale: '1',\n  },\n  animations: {\n"
        + "\n".join(animations)
        + "\n  },\n};\n"
    )


def map_js() -> str:
    bg = [[0 if y not in (3, 4) else 1 for y in range(MAP_H)] for _ in range(MAP_W)]
    objects = [[-1] * MAP_H for _ in range(MAP_W)]
    for y in range(0, 3):
        objects[9][y] = 2  # a wall
    rows = lambda layer: ",\n".join("[ " + " , ".join(map(str, c)) + " , ]" for c in layer)  # noqa: E731
    return f"""// A meadow, in the shape AI Town's map tool writes.

export const tilesetpath = "/ai-town/assets/meadow-tiles.png"
export const tiledim = 32
export const screenxtiles = {MAP_W}
export const screenytiles = {MAP_H}
export const tilesetpxw = 96
export const tilesetpxh = 32

export const bgtiles = [
   [
{rows(bg)},
],];

export const objmap = [
   [
{rows(objects)},
],];

export const animatedsprites = [
{{ x: 32, y: 32, w: 32, h: 32, layer: 1, sheet: "sparkle.json", animation: "pixels_large" }},
];

export const mapwidth = bgtiles[0].length;
export const mapheight = bgtiles[0][0].length;
"""


def sparkle_json() -> str:
    frames = {
        f"pixels_large{n + 1}.png": {
            "frame": {"x": 32 * n, "y": 0, "w": 32, "h": 32},
            "rotated": False,
            "sourceSize": {"w": 32, "h": 32},
        }
        for n in range(len(SPARKLE))
    }
    return json.dumps(
        {
            "frames": frames,
            "animations": {"pixels_large": list(frames)},
            "meta": {"image": "./spritesheets/sparkle.png", "size": {"w": 64, "h": 32}},
        },
        indent=1,
    )


INIT_TS = """import { v } from 'convex/values';
import { Descriptions } from '../data/characters';
import * as map from '../data/meadow';

export const init = async () => {
  return { map: map.tilesetpath, count: Descriptions.length };
};
"""

TYPES_TS = """export type SpritesheetData = {
  frames: Record<string, { frame: { x: number; y: number; w: number; h: number } }>;
  animations?: Record<string, string[]>;
  meta: { scale: string };
};
"""


def write_checkout(root: Path, characters=CHARACTERS) -> Path:
    """The checkout under ``root``; returns ``root``."""
    files = {
        "data/characters.ts": characters_ts(characters),
        "data/spritesheets/types.ts": TYPES_TS,
        "data/spritesheets/f1.ts": spritesheet_ts(0),
        "data/spritesheets/f2.ts": spritesheet_ts(1),
        "data/meadow.js": map_js(),
        "data/animations/sparkle.json": sparkle_json(),
        "convex/init.ts": INIT_TS,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    images = {
        "public/assets/meadow-tiles.png": png(96, 32, lambda x, y: TILE_COLOURS[x // TILE]),
        "public/assets/folk.png": png(
            6 * TILE, 4 * TILE, lambda x, y: frame_colour(x // (3 * TILE), y // TILE, x // TILE % 3)
        ),
        "public/assets/spritesheets/sparkle.png": png(64, 32, lambda x, y: SPARKLE[x // TILE]),
    }
    for name, data in images.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root
