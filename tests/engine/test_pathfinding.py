import itertools

import pytest

from smalltown.engine.pathfinding import find_path, occupied_tiles
from smalltown.engine.world_map import EMPTY, MapError, WorldMap, import_tiled


def grid_map(rows: list[str]) -> WorldMap:
    """'#' blocks; rows are y, characters x."""
    height, width = len(rows), len(rows[0])
    objects = [[EMPTY] * height for _ in range(width)]
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            if ch == "#":
                objects[x][y] = 7
    return WorldMap(
        width, height, 32, "tiles.png", 256, 256, [[[0] * height for _ in range(width)]], [objects]
    )


def steps_are_adjacent(path):
    return all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in itertools.pairwise(path))


def test_shortest_path_around_a_wall():
    m = grid_map(
        [
            ".....",
            ".###.",
            ".#...",
            ".#.#.",
            ".....",
        ]
    )
    path = find_path(m, (0, 0), (2, 2))
    assert path[0] == (0, 0) and path[-1] == (2, 2)
    assert steps_are_adjacent(path)
    assert all(not m.blocked(*t) for t in path)
    assert len(path) - 1 == 8  # round the wall either way: 8 steps


def test_unreachable_goal_falls_back_to_the_nearest_reachable_tile():
    m = grid_map(
        [
            "......",
            "..###.",
            "..#.#.",
            "..###.",
            "......",
        ]
    )
    path = find_path(m, (0, 0), (3, 2))  # walled in
    assert path[-1] != (3, 2)
    end = path[-1]
    assert abs(end[0] - 3) + abs(end[1] - 2) == 2  # right next to the wall around it
    assert steps_are_adjacent(path)


def test_a_blocked_goal_tile_and_other_players():
    m = grid_map(["....."] * 3)
    others = occupied_tiles([(2.0, 1.0)])
    assert (2, 1) in others and (1, 1) not in others
    path = find_path(m, (0, 1), (4, 1), blocked=lambda t: t in others)
    assert (2, 1) not in path and path[-1] == (4, 1)


def test_start_is_never_blocked_and_a_boxed_in_player_stays():
    m = grid_map([".#.", "#.#", ".#."])
    assert find_path(m, (1, 1), (0, 0)) == [(1, 1)]


def test_same_inputs_same_path():
    m = grid_map(["......"] * 6)
    assert find_path(m, (0, 0), (5, 5)) == find_path(m, (0, 0), (5, 5))


def tiled(layers, **overrides):
    base = {
        "width": 3,
        "height": 2,
        "tilewidth": 16,
        "tileheight": 16,
        "orientation": "orthogonal",
        "tilesets": [
            {
                "firstgid": 1,
                "image": "set.png",
                "imagewidth": 64,
                "imageheight": 32,
                "columns": 4,
                "tilewidth": 16,
                "tileheight": 16,
            }
        ],
        "layers": layers,
    }
    return {**base, **overrides}


def test_tiled_import_reads_layers_objects_and_sprites():
    data = tiled(
        [
            {"type": "tilelayer", "name": "ground", "data": [1, 2, 3, 4, 5, 6]},
            {"type": "tilelayer", "name": "objects", "data": [0, 0, 0x80000000 | 7, 0, 0, 0]},
            {
                "type": "objectgroup",
                "name": "shapes",
                "objects": [
                    {"x": 0, "y": 16, "width": 16, "height": 16},
                    {
                        "x": 16,
                        "y": 0,
                        "width": 16,
                        "height": 16,
                        "properties": [{"name": "animation", "value": "fire"}],
                    },
                ],
            },
        ]
    )
    m = import_tiled(data)
    assert (m.width, m.height, m.tile_dim) == (3, 2, 16)
    assert m.bg_tiles[0][1][0] == 1 and m.bg_tiles[0][2][1] == 5  # gid - firstgid, x then y
    assert m.blocked(2, 0)  # the flipped tile still blocks
    assert m.blocked(0, 1)  # the invisible wall
    assert not m.blocked(1, 0)  # the sprite does not block
    assert m.animated_sprites[0]["animation"] == "fire"
    again = WorldMap.from_document(m.to_document())
    assert again.bg_tiles == m.bg_tiles and again.object_tiles == m.object_tiles


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"width": 3}, "not a Tiled map"),
        (tiled([{"type": "tilelayer", "name": "g", "data": [1, 2]}]), "expected 6 tiles"),
        (tiled([], orientation="isometric"), "orthogonal"),
        (tiled([], tilesets=[{"firstgid": 1, "source": "set.tsx"}]), "Embed"),
    ],
)
def test_bad_tiled_files_say_what_is_wrong(data, message):
    with pytest.raises(MapError, match=message):
        import_tiled(data)


def test_bad_map_documents_are_refused():
    with pytest.raises(MapError):
        WorldMap.from_document({"width": 2})
    with pytest.raises(MapError, match="columns"):
        WorldMap(2, 2, 32, "t.png", 1, 1, [[[0, 0]]], [])


def test_regions_split_where_the_map_walls_off_and_are_worked_out_once_a_layout():
    from smalltown.engine.pathfinding import regions, regions_from

    rows = ["..#..", "..#..", "..#.."]
    m = grid_map(rows)
    labels = regions(m)
    left, right = labels[0], labels[4]
    assert left != right and labels[2] == -1
    assert regions_from(m, (0, 1)) == {left} and regions_from(m, (2, 1)) == {left, right}
    again = grid_map(rows)  # read afresh, as a runner does every step
    assert regions(again) is labels
    assert regions(grid_map(["....."] * 3)) is not labels
