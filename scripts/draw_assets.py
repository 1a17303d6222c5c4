#!/usr/bin/env python3
"""Draw the default town's tile set and character sprites as PNG files, with no libraries.

Run from the repository root: python scripts/draw_assets.py
Writes src/smalltown/town/assets/town-tiles.png (8 x 3 tiles of 32 px, indices as in
smalltown/town/defaults.py, the fountain's basin at rest among them: any page draws it),
characters.png (twelve characters, 3 walking frames in each of 4 directions: down, left,
right, up) and the fountain's water, an animated sprite drawn over the basin on
smalltown's page: fountain.png (4 frames of 64 px) with fountain.json (its frames and
animation).
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

    def blit(self, src: Canvas, sx: int, sy: int, w: int, h: int, dx: int, dy: int) -> None:
        for yy in range(h):
            self.pixels[dy + yy][dx : dx + w] = src.pixels[sy + yy][sx : sx + w]

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
    c = Canvas(8 * TILE, 3 * TILE)
    rng = random.Random(4)
    at = lambda i: ((i % 8) * TILE, (i // 8) * TILE)  # noqa: E731
    grass, dark_grass = (96, 168, 72, 255), (72, 140, 56, 255)
    speckle(c, *at(0), grass, [dark_grass, (120, 190, 90, 255)], rng)  # grass
    speckle(
        c, *at(1), (206, 178, 128, 255), [(180, 150, 104, 255), (226, 204, 160, 255)], rng
    )  # path
    speckle(c, *at(2), (232, 214, 160, 255), [(214, 192, 136, 255)], rng, 25)  # sand
    speckle(c, *at(3), grass, [dark_grass], rng, 10)  # a flower bed
    for _ in range(9):
        fx, fy = rng.randrange(3, TILE - 3), rng.randrange(3, TILE - 3)
        petal = rng.choice([(240, 90, 110, 255), (250, 220, 80, 255), (230, 230, 250, 255)])
        c.disc(at(3)[0] + fx, at(3)[1] + fy, 1.6, petal)
        c.put(at(3)[0] + fx, at(3)[1] + fy, (250, 200, 60, 255))
    speckle(c, *at(4), dark_grass, [grass, (60, 120, 46, 255)], rng, 60)  # long grass
    for i in range(5, 8):
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
    wall, beam = (214, 196, 160, 255), (150, 120, 90, 255)
    x, y = at(10)  # a house's wall, with a window
    c.rect(x, y, TILE, TILE, wall)
    c.rect(x, y + TILE - 3, TILE, 3, beam)
    c.rect(x + 8, y + 8, 16, 14, (90, 70, 50, 255))
    c.rect(x + 10, y + 10, 12, 10, (130, 180, 220, 255))
    c.rect(x + 15, y + 10, 2, 10, (90, 70, 50, 255))
    c.rect(x + 6, y + 22, 20, 2, (120, 90, 60, 255))
    x, y = at(11)  # fence
    speckle(c, x, y, grass, [dark_grass], rng, 10)
    c.rect(x, y + 12, TILE, 3, (150, 100, 60, 255))
    c.rect(x, y + 20, TILE, 3, (150, 100, 60, 255))
    for post in (3, 15, 27):
        c.rect(x + post, y + 8, 3, 18, (120, 80, 44, 255))
    paving(c, *at(12))  # paving, blocking: the fountain's square
    x, y = at(13)  # a bench
    speckle(c, x, y, grass, [dark_grass], rng, 10)
    c.rect(x + 3, y + 10, 26, 4, (140, 96, 56, 255))  # backrest
    c.rect(x + 3, y + 17, 26, 6, (170, 120, 70, 255))  # seat
    for leg in (5, 25):
        c.rect(x + leg, y + 23, 2, 6, (70, 70, 76, 255))
    x, y = at(14)  # a market stall: a striped awning over a counter of produce
    c.rect(x, y, TILE, TILE, (200, 190, 170, 255))
    for stripe in range(0, TILE, 8):
        c.rect(x + stripe, y, 4, 12, (200, 60, 60, 255))
        c.rect(x + stripe + 4, y, 4, 12, (245, 240, 230, 255))
    c.rect(x, y + 18, TILE, 14, (140, 100, 60, 255))
    for n in range(6):
        fruit = [(230, 80, 50, 255), (250, 190, 50, 255), (110, 180, 70, 255)][n % 3]
        c.disc(x + 4 + n * 5, y + 19, 2.4, fruit)
    x, y = at(15)  # a pine
    speckle(c, x, y, grass, [dark_grass], rng, 10)
    c.rect(x + 14, y + 24, 4, 7, (100, 66, 36, 255))
    for row in range(22):
        half = 2 + row * 11 // 22
        c.rect(x + 16 - half, y + 2 + row, 2 * half, 1, (30, 90 + (row % 4) * 6, 50, 255))
    x, y = at(16)  # a roof
    c.rect(x, y, TILE, TILE, (170, 64, 52, 255))
    for row in range(0, TILE, 6):
        c.rect(x, y + row, TILE, 1, (130, 44, 40, 255))
        for col in range((row // 6) % 2 * 4, TILE, 8):
            c.rect(x + col, y + row, 1, 6, (130, 44, 40, 255))
    x, y = at(17)  # a house's wall with its door
    c.rect(x, y, TILE, TILE, wall)
    c.rect(x, y + TILE - 3, TILE, 3, beam)
    c.rect(x + 9, y + 6, 14, 26, (90, 60, 36, 255))
    c.rect(x + 11, y + 8, 10, 24, (130, 84, 48, 255))
    c.put(x + 19, y + 20, (240, 210, 90, 255))
    x, y = at(18)  # a bush
    speckle(c, x, y, grass, [dark_grass], rng, 10)
    c.disc(x + 16, y + 19, 11, (50, 120, 60, 255))
    c.disc(x + 11, y + 16, 6, (70, 146, 72, 255))
    c.disc(x + 21, y + 17, 5, (64, 136, 66, 255))
    for _ in range(5):
        c.put(x + rng.randrange(8, 24), y + rng.randrange(12, 26), (220, 60, 70, 255))
    basin = Canvas(2 * TILE, 2 * TILE)  # the fountain at rest, over four tiles
    for ox in (0, TILE):
        for oy in (0, TILE):
            paving(basin, ox, oy)
    draw_basin(basin, 0)
    for n, i in enumerate(range(19, 23)):  # top left, top right, bottom left, bottom right
        c.blit(basin, (n % 2) * TILE, (n // 2) * TILE, TILE, TILE, *at(i))
    speckle(c, *at(23), grass, [dark_grass], rng, 10)  # spare grass
    return c


def paving(c: Canvas, x: int, y: int) -> None:
    c.rect(x, y, TILE, TILE, (170, 170, 165, 255))
    for row in range(0, TILE, 8):
        shift = 4 if (row // 8) % 2 else 0
        c.rect(x, y + row, TILE, 1, (140, 140, 136, 255))
        for col in range(shift, TILE, 8):
            c.rect(x + col, y + row, 1, 8, (140, 140, 136, 255))


BASIN_Y = 38  # the basin's centre, from the top of the fountain's 64 px


def draw_basin(c: Canvas, ox: int) -> None:
    """The fountain's stone rim, its still water and the spout."""
    c.disc(ox + 32, BASIN_Y, 26, (120, 120, 128, 255))  # rim
    c.disc(ox + 32, BASIN_Y, 21, (70, 130, 200, 255))  # water
    c.rect(ox + 29, 22, 6, 16, (150, 150, 158, 255))  # spout


FOUNTAIN_FRAMES = 4


def fountain() -> tuple[Canvas, dict]:
    """A stone basin with a spout whose water rises and falls over four frames."""
    size = 2 * TILE
    c = Canvas(FOUNTAIN_FRAMES * size, size)
    frames = {}
    for f in range(FOUNTAIN_FRAMES):
        ox = f * size
        draw_basin(c, ox)
        for ring in range(3):  # ripples travelling outwards
            r = 6 + ((f + ring * 2) % FOUNTAIN_FRAMES) * 4 + ring
            for a in range(0, 360, 12):
                px = ox + 32 + r * math.cos(math.radians(a))
                py = BASIN_Y + r * 0.8 * math.sin(math.radians(a))
                if not (ox + 29 <= int(px) < ox + 35 and int(py) < BASIN_Y):
                    c.put(int(px), int(py), (150, 200, 245, 255))  # (behind the spout)
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


SKINS = [(236, 196, 160, 255), (198, 150, 110, 255), (150, 100, 70, 255), (110, 72, 50, 255)]
OUTLINE = (34, 28, 30, 255)
# One look per resident, in their order (f1, f2, ...): shirt, trousers, hair, skin, hair style.
LOOKS = [
    ((70, 110, 190, 255), (50, 50, 70, 255), (200, 200, 200, 255), 0, "long"),
    ((230, 230, 215, 255), (90, 70, 50, 255), (60, 40, 20, 255), 1, "cap"),
    ((90, 160, 90, 255), (70, 60, 40, 255), (230, 200, 90, 255), 0, "bun"),
    ((200, 90, 60, 255), (40, 40, 60, 255), (20, 20, 20, 255), 3, "short"),
    ((240, 190, 60, 255), (60, 90, 150, 255), (150, 70, 30, 255), 0, "short"),
    ((110, 90, 70, 255), (60, 60, 60, 255), (235, 235, 235, 255), 0, "bald"),
    ((180, 60, 130, 255), (40, 50, 90, 255), (120, 40, 30, 255), 1, "long"),
    ((60, 160, 170, 255), (80, 80, 90, 255), (30, 25, 20, 255), 2, "short"),
    ((220, 170, 60, 255), (110, 90, 60, 255), (170, 170, 160, 255), 0, "bun"),
    ((230, 120, 40, 255), (50, 70, 120, 255), (50, 30, 20, 255), 2, "cap"),
    ((120, 60, 150, 255), (30, 30, 40, 255), (200, 70, 50, 255), 1, "bun"),
    ((60, 90, 60, 255), (90, 80, 60, 255), (110, 80, 50, 255), 3, "hat"),
]


def shade(color: Color, by: float) -> Color:
    r, g, b, a = color
    return (int(r * by), int(g * by), int(b * by), a)


def person(c: Canvas, ox: int, oy: int, look, direction: int, frame: int) -> None:
    """One frame, feet at the bottom: outlined, so a resident reads on any tile.
    direction: 0 down, 1 left, 2 right, 3 up; frame 1 stands, 0 and 2 step."""
    shirt, trousers, hair, skin_index, style = look
    skin = SKINS[skin_index]
    stride = (-2, 0, 2)[frame]
    bob = 0 if frame == 1 else -1
    oy += bob
    c.disc(ox + 16, oy + 31 - bob, 7, (0, 0, 0, 60))  # a shadow
    # legs, one forward and one back while stepping
    left, right = (stride, -stride) if direction in (0, 3) else (stride, stride)
    c.rect(ox + 11, oy + 23, 5, 7 + max(0, left), OUTLINE)
    c.rect(ox + 16, oy + 23, 5, 7 + max(0, -left if direction in (0, 3) else -right), OUTLINE)
    c.rect(ox + 12, oy + 23, 3, 6 + max(0, left), trousers)
    c.rect(ox + 17, oy + 23, 3, 6 + max(0, -left if direction in (0, 3) else -right), trousers)
    # body and arms
    c.rect(ox + 8, oy + 13, 16, 12, OUTLINE)
    c.rect(ox + 9, oy + 14, 14, 10, shirt)
    c.rect(ox + 9, oy + 21, 14, 3, shade(shirt, 0.8))
    if direction in (0, 3):
        c.rect(ox + 6, oy + 14 - stride // 2, 3, 8, OUTLINE)
        c.rect(ox + 23, oy + 14 + stride // 2, 3, 8, OUTLINE)
        c.rect(ox + 7, oy + 15 - stride // 2, 1, 6, shade(shirt, 0.85))
        c.rect(ox + 24, oy + 15 + stride // 2, 1, 6, shade(shirt, 0.85))
    else:
        arm = ox + (14 if direction == 2 else 15)
        c.rect(arm - 1 + stride, oy + 14, 5, 9, OUTLINE)
        c.rect(arm + stride, oy + 15, 3, 7, shade(shirt, 0.85))
    # head
    c.disc(ox + 16, oy + 8, 7, OUTLINE)
    c.disc(ox + 16, oy + 8, 6, skin)
    if style != "bald" or direction == 3:
        top = hair if style != "bald" else skin
        c.rect(ox + 10, oy + 2, 12, 4, top)
        if direction == 3:
            c.disc(ox + 16, oy + 7, 6, top)
    if style == "long":
        c.rect(ox + 9, oy + 4, 3, 10, hair)
        c.rect(ox + 20, oy + 4, 3, 10, hair)
        if direction == 3:
            c.rect(ox + 10, oy + 8, 12, 7, hair)
    elif style == "bun":
        c.disc(ox + 16, oy + 1, 3, hair)
    elif style == "cap":
        c.rect(ox + 9, oy + 1, 14, 4, shirt)
        peak = {0: (11, 10), 1: (6, 8), 2: (18, 8), 3: (0, 0)}[direction]
        if peak[1]:
            c.rect(ox + peak[0], oy + 5, peak[1], 2, shade(shirt, 0.7))
    elif style == "hat":
        c.rect(ox + 7, oy + 3, 18, 2, (90, 60, 40, 255))
        c.rect(ox + 10, oy - 1, 12, 4, (90, 60, 40, 255))
    if direction != 3:
        eyes = {0: (13, 18), 1: (11, 14), 2: (18, 21)}[direction]
        for ex in eyes:
            c.rect(ox + ex, oy + 8, 1, 2, OUTLINE)
        if direction == 0:
            c.rect(ox + 15, oy + 11, 2, 1, shade(skin, 0.75))


def characters() -> Canvas:
    c = Canvas(len(LOOKS) * 3 * TILE, 4 * TILE)
    for n, look in enumerate(LOOKS):
        for direction in range(4):
            for frame in range(3):
                person(c, (n * 3 + frame) * TILE, direction * TILE, look, direction, frame)
    return c


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "town-tiles.png").write_bytes(tiles().png())
    (OUT / "characters.png").write_bytes(characters().png())
    image, sheet = fountain()
    (OUT / "fountain.png").write_bytes(image.png())
    (OUT / "fountain.json").write_text(json.dumps(sheet, indent=1) + "\n")
    print(f"wrote town-tiles.png, characters.png, fountain.png and fountain.json in {OUT}")
