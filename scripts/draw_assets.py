#!/usr/bin/env python3
"""Draw the default town's tile set and character sprites as PNG files, with no libraries.

Run from the repository root: python scripts/draw_assets.py
Writes src/smalltown/town/assets/town-tiles.png (8 x 2 tiles of 32 px, indices as in
smalltown/town/defaults.py), characters.png (five characters, 3 walking frames in each
of 4 directions: down, left, right, up) and the square's fountain, an animated sprite:
fountain.png (4 frames of 64 px) with fountain.json (its frames and animation).
"""

from __future__ import annotations

import json
import math
import random
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "smalltown" / "town" / "assets"
TILE = 32
Color = tuple[int, int, int, int]


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = [[(0, 0, 0, 0)] * width for _ in range(height)]

    def put(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[y][x] = color

    def rect(self, x: int, y: int, w: int, h: int, color: Color) -> None:
        for yy in range(y, y + h):
            for xx in range(x, x + w):
                self.put(xx, yy, color)

    def disc(self, cx: float, cy: float, r: float, color: Color) -> None:
        for yy in range(int(cy - r), int(cy + r) + 1):
            for xx in range(int(cx - r), int(cx + r) + 1):
                if (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r:
                    self.put(xx, yy, color)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + b"".join(bytes(p) for p in row) for row in self.pixels)

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 6, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def speckle(
    c: Canvas, ox: int, oy: int, base: Color, dots: list[Color], rng: random.Random, count: int = 40
) -> None:
    c.rect(ox, oy, TILE, TILE, base)
    for _ in range(count):
        c.put(ox + rng.randrange(TILE), oy + rng.randrange(TILE), rng.choice(dots))


def tiles() -> Canvas:
    c = Canvas(8 * TILE, 2 * TILE)
    rng = random.Random(4)
    at = lambda i: ((i % 8) * TILE, (i // 8) * TILE)  # noqa: E731
    grass, dark_grass = (96, 168, 72, 255), (72, 140, 56, 255)
    speckle(c, *at(0), grass, [dark_grass, (120, 190, 90, 255)], rng)  # grass
    speckle(
        c, *at(1), (206, 178, 128, 255), [(180, 150, 104, 255), (226, 204, 160, 255)], rng
    )  # path
    speckle(c, *at(2), (232, 214, 160, 255), [(214, 192, 136, 255)], rng, 25)  # sand
    for i in range(3, 8):
        speckle(c, *at(i), grass, [dark_grass], rng, 10)  # spare grass
    x, y = at(8)  # water
    c.rect(x, y, TILE, TILE, (64, 128, 200, 255))
    for row in range(4, TILE, 8):
        for col in range(rng.randrange(4), TILE - 6, 10):
            c.rect(x + col, y + row, 5, 1, (140, 190, 240, 255))
    x, y = at(9)  # tree
    speckle(c, x, y, grass, [dark_grass], rng, 10)
    c.rect(x + 14, y + 20, 5, 10, (110, 74, 40, 255))
    c.disc(x + 16, y + 13, 11, (40, 110, 50, 255))
    c.disc(x + 13, y + 10, 5, (70, 150, 70, 255))
    x, y = at(10)  # house
    c.rect(x, y, TILE, TILE, (200, 180, 150, 255))
    c.rect(x, y, TILE, 12, (170, 60, 50, 255))
    c.rect(x + 4, y + 16, 8, 8, (120, 170, 210, 255))
    c.rect(x + 18, y + 16, 8, 16, (110, 70, 40, 255))
    x, y = at(11)  # fence
    speckle(c, x, y, grass, [dark_grass], rng, 10)
    c.rect(x, y + 12, TILE, 3, (150, 100, 60, 255))
    c.rect(x, y + 20, TILE, 3, (150, 100, 60, 255))
    for post in (3, 15, 27):
        c.rect(x + post, y + 8, 3, 18, (120, 80, 44, 255))
    x, y = at(12)  # paving under the fountain
    c.rect(x, y, TILE, TILE, (170, 170, 165, 255))
    for row in range(0, TILE, 8):
        shift = 4 if (row // 8) % 2 else 0
        c.rect(x, y + row, TILE, 1, (140, 140, 136, 255))
        for col in range(shift, TILE, 8):
            c.rect(x + col, y + row, 1, 8, (140, 140, 136, 255))
    return c


FOUNTAIN_FRAMES = 4


def fountain() -> tuple[Canvas, dict]:
    """A stone basin with a spout whose water rises and falls over four frames."""
    size = 2 * TILE
    c = Canvas(FOUNTAIN_FRAMES * size, size)
    frames = {}
    for f in range(FOUNTAIN_FRAMES):
        ox = f * size
        oy = 38
        c.disc(ox + 32, oy, 26, (120, 120, 128, 255))  # rim
        c.disc(ox + 32, oy, 21, (70, 130, 200, 255))  # water
        for ring in range(3):  # ripples travelling outwards
            r = 6 + ((f + ring * 2) % FOUNTAIN_FRAMES) * 4 + ring
            for a in range(0, 360, 12):
                px = ox + 32 + r * math.cos(math.radians(a))
                py = oy + r * 0.8 * math.sin(math.radians(a))
                c.put(int(px), int(py), (150, 200, 245, 255))
        c.rect(ox + 29, 22, 6, 16, (150, 150, 158, 255))  # spout
        height = (10, 14, 17, 13)[f]
        for drop in range(12):  # the jet, falling either side
            side = -1 if drop % 2 else 1
            t = drop / 12
            px = ox + 32 + side * t * 14
            py = 22 - height * (1 - (2 * t - 0.4) ** 2)
            c.disc(px, py, 1.4, (200, 230, 255, 255))
        frames[f"spray{f}"] = {"frame": {"x": ox, "y": 0, "w": size, "h": size}}
    sheet = {
        "frames": frames,
        "animations": {"spray": list(frames)},
        "meta": {"image": "fountain.png", "size": {"w": c.width, "h": c.height}, "scale": "1"},
    }
    return c, sheet


PALETTES = [  # shirt, trousers, hair
    ((70, 110, 190, 255), (50, 50, 70, 255), (200, 200, 200, 255)),
    ((220, 220, 200, 255), (90, 70, 50, 255), (60, 40, 20, 255)),
    ((90, 160, 90, 255), (70, 60, 40, 255), (230, 200, 90, 255)),
    ((200, 90, 60, 255), (40, 40, 60, 255), (20, 20, 20, 255)),
    ((240, 190, 60, 255), (60, 90, 150, 255), (150, 70, 30, 255)),
]
SKIN = (230, 190, 150, 255)


def person(c: Canvas, ox: int, oy: int, palette, direction: int, frame: int) -> None:
    shirt, trousers, hair = palette
    stride = (-2, 0, 2)[frame]
    c.rect(ox + 11, oy + 24, 4, 6 + (stride if stride > 0 else 0), trousers)  # legs
    c.rect(ox + 17, oy + 24, 4, 6 + (-stride if stride < 0 else 0), trousers)
    c.rect(ox + 9, oy + 13, 14, 12, shirt)  # body
    c.disc(ox + 16, oy + 8, 6, SKIN)  # head
    if direction == 3:  # up: the back of the head
        c.disc(ox + 16, oy + 7, 6, hair)
    else:
        c.rect(ox + 10, oy + 2, 12, 4, hair)
        eyes = {0: (13, 18), 1: (12, 15), 2: (17, 20)}[direction]
        for ex in eyes:
            c.put(ox + ex, oy + 8, (30, 30, 30, 255))


def characters() -> Canvas:
    c = Canvas(len(PALETTES) * 3 * TILE, 4 * TILE)
    for n, palette in enumerate(PALETTES):
        for direction in range(4):
            for frame in range(3):
                person(c, (n * 3 + frame) * TILE, direction * TILE, palette, direction, frame)
    return c


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "town-tiles.png").write_bytes(tiles().png())
    (OUT / "characters.png").write_bytes(characters().png())
    image, sheet = fountain()
    (OUT / "fountain.png").write_bytes(image.png())
    (OUT / "fountain.json").write_text(json.dumps(sheet, indent=1) + "\n")
    print(f"wrote town-tiles.png, characters.png, fountain.png and fountain.json in {OUT}")
