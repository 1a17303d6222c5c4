"""The default town's art is ours, committed as PNG, and matches the map that uses it."""

import struct
import subprocess
import sys
from pathlib import Path

from smalltown.town.defaults import RESIDENTS, town_map

ASSETS = Path(__file__).resolve().parents[2] / "src" / "smalltown" / "town" / "assets"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_tile_set_fits_the_map():
    world_map = town_map()
    width, height = png_size(ASSETS / "town-tiles.png")
    assert (width, height) == (world_map.tileset_dim_x, world_map.tileset_dim_y)
    tiles = (width // world_map.tile_dim) * (height // world_map.tile_dim)
    used = {
        t
        for layer in world_map.bg_tiles + world_map.object_tiles
        for column in layer
        for t in column
        if t >= 0
    }
    assert max(used) < tiles


def test_every_character_has_a_sprite_column():
    width, height = png_size(ASSETS / "characters.png")
    assert width == len(RESIDENTS) * 3 * 32 and height == 4 * 32


def test_the_committed_art_is_what_the_script_draws(tmp_path):
    before = {p.name: p.read_bytes() for p in ASSETS.glob("*.png")}
    script = ASSETS.parents[3] / "scripts" / "draw_assets.py"
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True, timeout=60)
    after = {p.name: p.read_bytes() for p in ASSETS.glob("*.png")}
    assert after == before
