"""The default town: its map, its five residents and seven neighbours (all our own)."""

from __future__ import annotations

from typing import Any

from smalltown.engine.world_map import EMPTY, WorldMap

WIDTH, HEIGHT = 48, 32
GRASS, PATH, SAND, FLOWERS, LONG_GRASS = 0, 1, 2, 3, 4
WATER, TREE, HOUSE, FENCE, PAVING = 8, 9, 10, 11, 12
BENCH, STALL, PINE, ROOF, DOOR, BUSH = 13, 14, 15, 16, 17, 18
FOUNTAIN = (20, 12)  # its top-left tile; it covers 2 x 2
FOUNTAIN_TILES = (19, 20, 21, 22)  # the basin at rest: top left, top right, bottom left, right
TILESET = "/assets/town-tiles.png"
#: the fountain's water, drawn over each basin on a map of the town's tiles by smalltown's
#: page (``characters:animatedSprites``); AI Town's page knows no sheet of ours, so its
#: maps name none and it draws the basin at rest
FOUNTAIN_SPRAY = {"w": 64.0, "h": 64.0, "layer": 1.0, "sheet": "/assets/fountain.json"}
FOUNTAIN_SPRAY |= {"animation": "spray"}

CHARACTERS = [
    {
        "name": "Marisol",
        "character": "f1",
        "identity": "Marisol kept the harbour lighthouse for thirty years and now collects sea "
        "glass. She is patient, dry-humoured, and remembers every storm by name.",
        "plan": "You want to find out who has been leaving shells on your doorstep.",
    },
    {
        "name": "Tobias",
        "character": "f2",
        "identity": "Tobias runs the bakery and tests a new sourdough every week on whoever "
        "walks past. He talks fast, laughs easily and hates wasting anything.",
        "plan": "You want everyone to taste the rye loaf before the fair on Saturday.",
    },
    {
        "name": "Ingrid",
        "character": "f3",
        "identity": "Ingrid is a botanist cataloguing the wildflowers that grow between the "
        "cobblestones. She is shy with people and fearless with nettles.",
        "plan": "You want help finding the blue flower you saw once near the pond.",
    },
    {
        "name": "Kofi",
        "character": "f4",
        "identity": "Kofi plays guitar on the square and is writing a song about the town, "
        "one resident at a time. He listens more than he talks and notices details.",
        "plan": "You want a story from each neighbour for the next verse.",
    },
    {
        "name": "Wren",
        "character": "f5",
        "identity": "Wren is eleven and publishes the town's unofficial newspaper, two pages, "
        "hand-copied. Wren asks blunt questions and writes down every answer.",
        "plan": "You want a scoop for this week's front page.",
    },
]


# Who else lives here: a bigger world (``smalltown worlds create --agents 12``) meets them
# after the five above, each with a look of their own.
NEIGHBOURS = [
    {
        "name": "Anselm",
        "character": "f6",
        "identity": "Anselm mends clocks in a shop no wider than a door. He is precise, "
        "slow to trust and secretly delighted whenever a clock runs a little fast.",
        "plan": "You want to learn why the church clock stopped at ten past four.",
    },
    {
        "name": "Petra",
        "character": "f7",
        "identity": "Petra drives the town's only taxi and knows everyone's errands. She is "
        "loud, generous, and keeps a notebook of the best shortcuts.",
        "plan": "You want someone to split the cost of a new set of tyres with you.",
    },
    {
        "name": "Yusuf",
        "character": "f8",
        "identity": "Yusuf is the new schoolteacher, three weeks in town. He is cheerful, a "
        "little lost, and tries to learn one name a day.",
        "plan": "You want to find volunteers for the school's spring play.",
    },
    {
        "name": "Greta",
        "character": "f9",
        "identity": "Greta keeps bees behind the pond and sells honey by the jar. She speaks "
        "plainly, distrusts hurry and can tell the weather from her hives.",
        "plan": "You want to warn people that a swarm may settle on the square this week.",
    },
    {
        "name": "Lucho",
        "character": "f10",
        "identity": "Lucho repairs bicycles and rides one with a sidecar for his old dog. He is "
        "chatty, hopeless with money and never says no to a puncture.",
        "plan": "You want to organise a bicycle race around the pond on Sunday.",
    },
    {
        "name": "Odile",
        "character": "f11",
        "identity": "Odile was an opera singer and now runs the lending library. She is "
        "theatrical, kind, and fines nobody but scolds everybody.",
        "plan": "You want the three overdue atlases back before the inspector comes.",
    },
    {
        "name": "Bram",
        "character": "f12",
        "identity": "Bram fishes the pond at dawn and has never kept a single fish. He is quiet, "
        "wry and collects odd words the way others collect stamps.",
        "plan": "You want to know who keeps moving your fishing stool.",
    },
]
RESIDENTS = CHARACTERS + NEIGHBOURS


def many_characters(count: int) -> list[dict[str, str]]:
    """``count`` residents: the twelve above, then again with numbered names (for crowds)."""
    if count < 0:
        raise ValueError("a world needs zero or more agents")
    out = []
    for n in range(count):
        base = RESIDENTS[n % len(RESIDENTS)]
        round_ = n // len(RESIDENTS)
        out.append(base if round_ == 0 else {**base, "name": f"{base['name']} {round_ + 1}"})
    return out


def town_map() -> WorldMap:
    """48 x 32 tiles: a square with a market and benches, streets, houses with doors and a
    path from each door to a street, a pond, gardens, and woods along the edges."""
    bg = [[GRASS] * HEIGHT for _ in range(WIDTH)]
    objects = [[EMPTY] * HEIGHT for _ in range(WIDTH)]
    for x in range(WIDTH):  # the main street
        bg[x][15] = bg[x][16] = PATH
    for y in range(HEIGHT):  # the cross street
        bg[23][y] = bg[24][y] = PATH
    for x in range(18, 30):  # the square
        for y in range(11, 21):
            bg[x][y] = SAND
    for x in range(34, 43):  # the pond, with a sandy shore
        for y in range(22, 29):
            if ((x - 38.5) / 4.5) ** 2 + ((y - 25.5) / 3.5) ** 2 <= 1:
                objects[x][y] = WATER
            elif ((x - 38.5) / 5.5) ** 2 + ((y - 25.5) / 4.5) ** 2 <= 1:
                bg[x][y] = SAND
    for x in range(6, 24):  # the back lane behind the lower houses
        bg[x][27] = PATH
    for hx, hy in ((4, 4), (11, 4), (31, 4), (38, 4), (4, 21), (11, 21)):  # houses
        for x in range(hx, hx + 5):
            for y in range(hy, hy + 4):
                objects[x][y] = ROOF if y < hy + 2 else HOUSE
        objects[hx + 2][hy + 3] = DOOR
        street = range(hy + 4, 15) if hy < 15 else range(hy + 4, 27)
        for y in street:  # the path from the door to the street (or the lane)
            bg[hx + 2][y] = PATH
        for x in (hx - 1, hx + 5):  # flower beds either side
            for y in range(hy + 2, hy + 4):
                bg[x][y] = FLOWERS
    for x in range(WIDTH):  # woods along the top and bottom, round trees and pines
        for y in (0, HEIGHT - 1):
            if x % 3 != 1:
                objects[x][y] = TREE if (x // 3) % 2 else PINE
    for y in range(HEIGHT):
        for x in (0, WIDTH - 1):
            if y % 3 != 1 and objects[x][y] == EMPTY:
                objects[x][y] = PINE if (y // 3) % 2 else TREE
    for x, y in ((28, 24), (30, 26), (27, 28), (31, 29), (29, 22), (45, 20), (44, 9)):
        objects[x][y] = PINE  # a copse by the pond, and odd trees
    for x, y in ((26, 25), (29, 28), (18, 6), (20, 7), (27, 6), (44, 12), (3, 12)):
        objects[x][y] = BUSH
    for x in range(17, 31):  # long grass round the copse
        for y in range(22, 30):
            if bg[x][y] == GRASS and (x * 7 + y * 3) % 5 == 0:
                bg[x][y] = LONG_GRASS
    for x in range(16, 21):  # a garden fence
        objects[x][24] = FENCE
    for x in range(17, 20):  # the garden's beds
        for y in range(25, 27):
            bg[x][y] = FLOWERS
    for x in range(26, 29):  # the market: stalls along the square's top and bottom
        objects[x][11] = STALL
        objects[x][20] = STALL
    for x, y in ((18, 18), (18, 13), (29, 13), (29, 18), (36, 20), (41, 20), (8, 17), (39, 17)):
        objects[x][y] = BENCH  # benches on the square, by the pond and along the street
    fx, fy = FOUNTAIN  # the fountain on the square, blocking
    for n, tile in enumerate(FOUNTAIN_TILES):
        objects[fx + n % 2][fy + n // 2] = tile
    return WorldMap(WIDTH, HEIGHT, 32, TILESET, 256, 96, [bg], [objects])


def fountain_as_tiles(world_map: dict[str, Any]) -> dict[str, Any] | None:
    """A ``maps`` document made before the fountain's basin was tiles (paving under a
    ``fountain.json`` sprite, which AI Town's page cannot draw), as it is made now; None
    when there is nothing to change."""
    sprites = world_map.get("animatedSprites", [])
    old = [s for s in sprites if s.get("sheet") == "fountain.json"]
    if world_map.get("tileSetUrl") != TILESET or not old:
        return None
    objects = [[list(column) for column in layer] for layer in world_map["objectTiles"]]
    dim = world_map["tileDim"]
    for sprite in old:
        x, y = int(sprite["x"] // dim), int(sprite["y"] // dim)
        for n, tile in enumerate(FOUNTAIN_TILES):
            tx, ty = x + n % 2, y + n // 2
            if 0 <= tx < len(objects[0]) and 0 <= ty < len(objects[0][tx]):
                objects[0][tx][ty] = float(tile)
    rest = [s for s in sprites if s.get("sheet") != "fountain.json"]
    return {**world_map, "objectTiles": objects, "animatedSprites": rest}


def fountain_sprays(world_map: dict[str, Any]) -> list[dict[str, Any]]:
    """The animated water over each fountain of a map (a ``maps`` document) drawn with the
    town's tiles: wherever a basin's top-left tile stands."""
    if world_map.get("tileSetUrl") != TILESET:
        return []
    dim, top_left = world_map["tileDim"], FOUNTAIN_TILES[0]
    return [
        {"x": float(x * dim), "y": float(y * dim), **FOUNTAIN_SPRAY}
        for layer in world_map["objectTiles"]
        for x, column in enumerate(layer)
        for y, tile in enumerate(column)
        if tile == top_left
    ]
