"""``smalltown aitown import PATH``: an AI Town checkout (our own small one, written by
``aitown_checkout``) becomes a world; imported again it updates that world in place; its
images are stored files the server serves; bad input is one line and writes nothing."""

import asyncio
import json
import shutil

import httpx
import pytest

from smalltown.cli import main
from smalltown.runtime import Registry, Runtime
from smalltown.server import create_app
from smalltown.town.schema import open_town_store, schema
from smalltown.worlds.parts import read_world
from smalltown.worlds.runner import WorldRunner

from aitown_checkout import CHARACTERS, MAP_H, MAP_W, png, write_checkout
from helpers import RunningServer


async def run_import(capsys, path, db, *flags):
    """The command, as typed (in a thread: it runs its own event loop)."""
    code = await asyncio.to_thread(main, ["aitown", "import", str(path), "--database", db, *flags])
    out = capsys.readouterr()
    return code, out.out, out.err


async def read_all(db, *tables):
    store = await open_town_store(db)
    try:
        return {t: await store.read(lambda tx, t=t: tx.query(t)) for t in tables}
    finally:
        await store.close()


async def read_world_at(db, world_id):
    """The world as AI Town's ``world:worldState`` gives it."""
    store = await open_town_store(db)
    try:
        return await store.read(lambda tx: read_world(tx, world_id))
    finally:
        await store.close()


async def step(db, world_id, steps=2):
    """The world's runner takes a few steps: its residents arrive."""
    store = await open_town_store(db)
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        status = await store.read(lambda tx: tx.first("worldStatus"))
        clock = [status["lastViewed"]]
        runner = WorldRunner(runtime, clock=lambda: clock[0], on_operations=lambda w, o: None)
        for _ in range(steps):
            clock[0] += 1000
            await runner.step_world(world_id)
    finally:
        await store.close()


async def test_a_checkout_becomes_a_world_with_its_characters_map_and_images(tmp_path, capsys):
    checkout = write_checkout(tmp_path / "my-town")
    db = f"sqlite:///{tmp_path}/town.db"
    code, out, err = await run_import(capsys, checkout, db)
    assert code == 0, err
    world_id = out.split(":")[0]
    assert "created" in out and "3 characters" in out and "12x8 map" in out
    await step(db, world_id)
    found = await read_all(
        db, "worlds", "maps", "playerDescriptions", "agentDescriptions", "smalltownImports"
    )
    assert [w["_id"] for w in found["worlds"]] == [world_id]
    players = {d["name"]: d for d in found["playerDescriptions"]}
    assert set(players) == {name for name, *_ in CHARACTERS}
    for name, look, identity, _plan in CHARACTERS:
        # AI Town's player details show the description, which is the identity
        assert players[name]["character"] == look and players[name]["description"] == identity
    assert {(d["identity"], d["plan"]) for d in found["agentDescriptions"]} == {
        (identity, plan) for _, _, identity, plan in CHARACTERS
    }
    (world_map,) = found["maps"]
    assert (world_map["width"], world_map["height"], world_map["tileDim"]) == (MAP_W, MAP_H, 32)
    assert world_map["tileSetUrl"].startswith("/api/storage/")
    assert world_map["bgTiles"][0][0][3] == 1 and world_map["objectTiles"][0][9][0] == 2
    (sprite,) = world_map["animatedSprites"]
    # the sheet keeps the checkout's name, which AI Town's page knows; the record says
    # where it is stored, for smalltown's page
    assert sprite["animation"] == "pixels_large" and sprite["sheet"] == "sparkle.json"
    (record,) = found["smalltownImports"]
    (stored,) = [s["url"] for s in record["spriteSheets"] if s["sheet"] == "sparkle.json"]
    assert stored.startswith("/api/storage/")
    assert record["name"] == "my-town" and record["worldId"] == world_id
    assert [(s["character"], s["speed"]) for s in record["sheets"]] == [("f1", 0.1), ("f2", 0.2)]


async def test_importing_again_updates_in_place_keeping_memories_and_conversations(
    tmp_path, capsys
):
    checkout = write_checkout(tmp_path / "my-town")
    db = f"sqlite:///{tmp_path}/town.db"
    _, out, _ = await run_import(capsys, checkout, db)
    world_id = out.split(":")[0]
    await step(db, world_id)
    before = await read_all(db, "playerDescriptions", "agentDescriptions", "_storage")
    ids = {d["name"]: d["playerId"] for d in before["playerDescriptions"]}
    store = await open_town_store(db)
    try:  # what the residents lived through: a memory, and a conversation's line
        await store.run(
            lambda tx: tx.insert(
                "memories",
                {"playerId": ids["Quill"], "description": "Moss showed me the pigeons."},
            )
        )
        await store.run(
            lambda tx: tx.insert(
                "messages",
                {
                    "worldId": world_id,
                    "conversationId": "c:1",
                    "author": ids["Moss"],
                    "text": "This one is Drizzle.",
                },
            )
        )
    finally:
        await store.close()
    # Quill has a new identity, Moss is renamed Fern in the same place, and one arrives.
    edited = [
        ("Quill", "f2", "Quill now teaches map-making at the library.", "You want pupils."),
        ("Fern", "f2", CHARACTERS[1][2], CHARACTERS[1][3]),
        CHARACTERS[2],
        ("Bramble", "f1", "Bramble is new in town and lost already.", "You want directions."),
    ]
    write_checkout(checkout, edited)
    code, out, err = await run_import(capsys, checkout, db)
    assert code == 0, err
    assert out.startswith(f"{world_id}: updated") and "3 updated in place, 1 arriving" in out
    assert "0 files stored" in out and "sprites (unchanged)" in out  # stored once, kept
    await step(db, world_id)
    after = await read_all(
        db, "worlds", "playerDescriptions", "agentDescriptions", "memories", "messages", "_storage"
    )
    assert [w["_id"] for w in after["worlds"]] == [world_id]
    players = {d["name"]: d for d in after["playerDescriptions"]}
    assert players["Quill"]["playerId"] == ids["Quill"]
    assert players["Quill"]["description"] == edited[0][2]
    assert players["Quill"]["character"] == "f2"
    assert players["Fern"]["playerId"] == ids["Moss"] and "Moss" not in players
    assert "Bramble" in players and players["Bramble"]["playerId"] not in ids.values()
    world = await read_world_at(db, world_id)
    quill_agent = next(a for a in world["agents"] if a["playerId"] == ids["Quill"])
    identity = next(d for d in after["agentDescriptions"] if d["agentId"] == quill_agent["id"])
    assert (identity["identity"], identity["plan"]) == edited[0][2:]
    assert [m["playerId"] for m in after["memories"]] == [ids["Quill"]]
    assert [m["author"] for m in after["messages"]] == [ids["Moss"]]
    assert len(after["_storage"]) == len(before["_storage"])


async def test_a_movement_speed_of_its_own_is_reported_not_applied(tmp_path, capsys):
    """AI Town's engine walks a whole deployment at movementSpeed; smalltown's walks every
    world at AI Town's default, and the import says so rather than passing it by."""
    checkout = write_checkout(tmp_path / "my-town")
    db = f"sqlite:///{tmp_path}/town.db"
    _replace("data/characters.ts", "movementSpeed = 0.75", "movementSpeed = 1.5")(checkout)
    code, out, err = await run_import(capsys, checkout, db)
    assert code == 0, err
    assert "note: movementSpeed 1.5 is not applied; residents walk 0.75 tiles a second" in out
    write_checkout(checkout)
    code, out, _ = await run_import(capsys, checkout, db)
    assert code == 0 and "note:" not in out


async def test_the_images_are_stored_files_the_server_serves(tmp_path, capsys):
    checkout = write_checkout(tmp_path / "my-town")
    db = f"sqlite:///{tmp_path}/town.db"
    _, out, _ = await run_import(capsys, checkout, db)
    world_id = out.split(":")[0]
    (world_map,) = (await read_all(db, "maps"))["maps"]
    async with (
        RunningServer(create_app(db, "smalltown.town")) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        tiles = await http.get(world_map["tileSetUrl"])
        assert tiles.status_code == 200 and tiles.headers["content-type"] == "image/png"
        assert tiles.content == (checkout / "public/assets/meadow-tiles.png").read_bytes()
        # AI Town's own page, on another origin, draws them into its canvas: CORS
        assert tiles.headers["access-control-allow-origin"] == "*"
        reply = await http.post(
            "/api/query", json={"path": "world:gameDescriptions", "args": {"worldId": world_id}}
        )
        whole = reply.json()["value"]["worldMap"]["tileSetUrl"]  # on SMALLTOWN_PUBLIC_URL
        assert whole.startswith("http://") and whole.endswith(world_map["tileSetUrl"])
        reply = await http.post(
            "/api/query", json={"path": "characters:sheets", "args": {"worldId": world_id}}
        )
        sheets = reply.json()["value"]
        assert [s["character"] for s in sheets] == ["f1", "f2"]
        sheet = (await http.get(sheets[0]["sheet"])).json()
        assert sorted(sheet["animations"]) == ["down", "left", "right", "up"]
        assert sheet["frames"]["left2"]["frame"] == {"x": 32.0, "y": 32.0, "w": 32.0, "h": 32.0}
        folk = await http.get(sheet["meta"]["image"])
        assert folk.content == (checkout / "public/assets/folk.png").read_bytes()
        # the map names its sprite's sheet as the checkout does (AI Town's page knows it);
        # smalltown's page is told where it is stored
        assert world_map["animatedSprites"][0]["sheet"] == "sparkle.json"
        reply = await http.post(
            "/api/query",
            json={"path": "characters:animatedSprites", "args": {"worldId": world_id}},
        )
        (stored,) = reply.json()["value"]
        assert stored == {**world_map["animatedSprites"][0], "sheet": stored["sheet"]}
        sparkle = (await http.get(stored["sheet"])).json()
        image = await http.get(sparkle["meta"]["image"])
        assert image.content == (checkout / "public/assets/spritesheets/sparkle.png").read_bytes()
        # a world of the town's own has no sheets: its people are drawn as ever
        reply = await http.post(
            "/api/query", json={"path": "characters:sheets", "args": {"worldId": "nope"}}
        )
        assert reply.json()["value"] == []


def _missing(path):
    return lambda root: (root / path).unlink()


def _write(path, text):
    return lambda root: (root / path).write_text(text)


def _replace(path, old, new):
    def edit(root):
        text = (root / path).read_text()
        assert old in text
        (root / path).write_text(text.replace(old, new))

    return edit


BAD = {
    "no characters module": (
        _missing("data/characters.ts"),
        "data/characters.ts: expected AI Town's characters module, found no file",
    ),
    "characters not plain data": (
        _replace(
            "data/characters.ts",
            "export const Descriptions = [",
            "export const Descriptions = makeThem() || [",
        ),
        "data/characters.ts: line 4: expected plain data",
    ),
    "a statement that does something": (
        _replace(
            "data/meadow.js",
            "export const tiledim = 32",
            "export const tiledim = 32\nconsole.log(1)",
        ),
        "data/meadow.js: line 5: expected only imports, and declarations and exports of plain data",
    ),
    "a map module that does not parse": (
        _replace("data/meadow.js", "export const tiledim = 32", "export const tiledim = = 32"),
        "data/meadow.js: line 4: expected JavaScript or TypeScript",
    ),
    "no map module": (
        _missing("data/meadow.js"),
        "convex/init.ts: expected a module at '../data/meadow', found no file",
    ),
    "a sprite sheet module missing": (
        _missing("data/spritesheets/f2.ts"),
        "data/characters.ts: expected a module at './spritesheets/f2', found no file",
    ),
    "a character image missing": (
        _missing("public/assets/folk.png"),
        "public/assets/folk.png: expected the image data/characters.ts: characters[0]'s "
        "textureUrl names (/ai-town/assets/folk.png), found no file",
    ),
    "a tile set that is not an image": (
        _write("public/assets/meadow-tiles.png", "version https://git-lfs example\n"),
        "public/assets/meadow-tiles.png: expected data/meadow.js's tilesetpath, a PNG, JPEG, "
        "GIF or WebP image; found a Git LFS pointer",
    ),
    "an animation's image missing": (
        _missing("public/assets/spritesheets/sparkle.png"),
        "public/assets/spritesheets/sparkle.png: expected the image data/animations/"
        "sparkle.json names, found no file",
    ),
    "a sheet without an up animation": (
        _replace("data/spritesheets/f1.ts", "    up: [", "    upward: ["),
        "data/characters.ts: characters[0]: expected spritesheetData.animations left, right, "
        "up, down; missing up",
    ),
    "a character wearing no sprite": (
        _replace("data/characters.ts", "character: 'f2'", "character: 'f9'"),
        "data/characters.ts: Descriptions[1]: expected character 'f9' to be one of "
        "characters' names (f1, f2)",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_input_is_one_line_naming_the_file_and_writes_nothing(tmp_path, capsys, case):
    checkout = write_checkout(tmp_path / "my-town")
    db = f"sqlite:///{tmp_path}/town.db"
    break_it, message = BAD[case]
    break_it(checkout)
    code, out, err = await run_import(capsys, checkout, db)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("smalltown: "), err
    assert message in err, err
    written = await read_all(db, "worlds", "maps", "_storage", "smalltownImports", "inputs")
    assert all(rows == [] for rows in written.values()), written


async def test_a_bad_checkout_leaves_an_imported_world_as_it_was(tmp_path, capsys):
    checkout = write_checkout(tmp_path / "my-town")
    db = f"sqlite:///{tmp_path}/town.db"
    assert (await run_import(capsys, checkout, db))[0] == 0
    tables = ("worlds", "maps", "_storage", "_storage_chunks", "smalltownImports", "inputs")
    before = await read_all(db, *tables)
    (checkout / "public/assets/folk.png").write_bytes(png(2, 2, lambda x, y: (1, 2, 3))[:20])
    shutil.rmtree(checkout / "data/animations")
    code, _, err = await run_import(capsys, checkout, db)
    assert code != 0 and err.count("\n") == 1
    assert await read_all(db, *tables) == before
    code, _, err = await run_import(capsys, write_checkout(checkout), db, "--world", "nope")
    assert code != 0 and "--world nope: expected a world id" in err
    assert await read_all(db, *tables) == before
    assert json.loads(json.dumps(before["smalltownImports"]))  # one record, unchanged
