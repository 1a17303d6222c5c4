"""A town read from an AI Town checkout, written into the database: its images into file
storage, its map and residents into a new world, or into the world it made before.

Images and the sheets that describe them are stored files (``GET /api/storage/<id>``); a
file whose bytes a previous import stored is used again. The world's map names its tile set
by URL (``tileSetUrl``) and its animated sprites' sheets by the checkout's names (AI Town's
page knows them); the import's record in ``smalltownImports`` says where each of those sheets
is stored (``characters:animatedSprites`` gives them by URL) and lists each character
sprite's sheet and speed (``characters:sheets``), which smalltown's page draws with.

Imported again (same ``--name``, or ``--world``), a world keeps its residents, memories and
conversations, and takes the checkout's names, identities, plans, sprites and map. The rule
that matches characters to residents: a character takes the resident of the same name;
the rest take the residents left over, in the order they first arrived (a renamed
character keeps its memories); characters beyond them arrive as new residents; residents
beyond them stay as they are.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smalltown.store import Range, Store
from smalltown.store import files as stored_files
from smalltown.worlds.checkout.js_data import CheckoutError
from smalltown.worlds.checkout.reader import Image, Town
from smalltown.worlds.creation import create_in
from smalltown.worlds.inputs import insert_input
from smalltown.worlds.parts import read_world

TABLE = "smalltownImports"


@dataclass
class Imported:
    world_id: str
    created: bool
    updated: int  # residents updated in place
    added: int  # residents arriving
    kept: int  # residents the checkout no longer lists, left as they are
    files_stored: int
    files_reused: int
    documents: int  # documents written, stored files' chunks included
    map_changed: bool  # a new world's map, or an imported world's replaced


async def install(
    store: Store, town: Town, name: str, world_id: str | None = None, source: str = ""
) -> Imported:
    """Write ``town`` as the world named ``name`` (or into ``world_id``)."""
    records = await store.read(lambda tx: tx.query(TABLE))
    if world_id is not None:
        status = await store.read(
            lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": world_id})
        )
        if status is None:
            raise CheckoutError(
                f"--world {world_id}: expected a world id, see `smalltown worlds list`"
            )
        record = next((r for r in records if r["worldId"] == world_id), None)
    else:
        record = next((r for r in records if r["name"] == name), None)
    files = _Files(store, records)
    tileset_url = await files.image(town.tileset)
    sheets = []
    for look in town.looks:
        image_url = await files.image(look.sheet.image)
        sheet_url = await files.json(look.sheet.to_json(image_url))
        sheets.append({"character": look.name, "sheet": sheet_url, "speed": look.speed})
    sprite_sheets = {}
    for sheet_name, sheet in town.sheets.items():
        sprite_sheets[sheet_name] = await files.json(sheet.to_json(await files.image(sheet.image)))
    world_map = town.map.to_document()
    world_map["tileSetUrl"] = tileset_url
    # Animated sprites keep the sheet names the checkout gives them, which AI Town's page
    # knows; the import's record says where each sheet is stored, for smalltown's page.
    characters = [
        {
            "name": c.name,
            "character": c.character,
            "identity": c.identity,
            "plan": c.plan,
            "description": c.identity,  # what AI Town's player details show
        }
        for c in town.characters
    ]
    target = world_id or (record["worldId"] if record else None)

    async def write(tx) -> Imported:
        counter = _Counting(tx)
        if target is None:
            from smalltown.engine.world_map import WorldMap

            default = await tx.first("worldStatus", "isDefault", eq={"isDefault": True}) is None
            new_id = await create_in(
                counter, WorldMap.from_document(world_map), characters, default
            )
            result = Imported(new_id, True, 0, len(characters), 0, 0, 0, 0, True)
        else:
            result = await _update(counter, target, world_map, characters)
        doc = {
            "name": name,
            "worldId": result.world_id,
            "source": source,
            "importedAt": time.time() * 1000,
            "sheets": sheets,
            "spriteSheets": [{"sheet": k, "url": v} for k, v in sprite_sheets.items()],
            "files": files.kept(),
        }
        old = await tx.first(TABLE, "worldId", eq={"worldId": result.world_id})
        if old is None:
            await counter.insert(TABLE, doc)
        else:
            await counter.replace(old["_id"], doc)
        result.documents = counter.writes
        return result

    result: Imported = await store.run(write)
    result.files_stored, result.files_reused = files.stored, files.reused
    result.documents += files.documents
    return result


async def _update(tx, world_id: str, world_map: dict, characters: list[dict]) -> Imported:
    """The world's map and residents replaced by the checkout's, in place."""
    status = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
    old_map = await tx.first("maps", "worldId", eq={"worldId": world_id})
    if old_map is None or status is None:
        raise CheckoutError(f"world {world_id}: expected a world with a map")
    world = await read_world(tx, world_id, ("players", "agents")) or {}
    for player in world.get("players", []):
        at = player.get("position") or {}
        x, y = at.get("x", 0), at.get("y", 0)
        if not (0 <= x < world_map["width"] and 0 <= y < world_map["height"]):
            raise CheckoutError(
                f"world {world_id}: expected the new map to hold its players, "
                f"{player.get('id')} stands outside it (import it as a new world with --name)"
            )
    new_map = {"worldId": world_id, **world_map}
    map_changed = {k: v for k, v in old_map.items() if not k.startswith("_")} != new_map
    if map_changed:  # (replay then walks earlier steps on this map too)
        await tx.replace(old_map["_id"], new_map)
    # Residents, in the order they arrived: those the world has, then those still on the
    # way (createAgent inputs no step has taken yet).
    agents = sorted(
        await tx.query("agentDescriptions", "worldId", eq={"worldId": world_id}),
        key=lambda d: d["_creationTime"],
    )
    players = {
        d["playerId"]: d
        for d in await tx.query("playerDescriptions", "worldId", eq={"worldId": world_id})
    }
    agent_player = {a["id"]: a["playerId"] for a in world.get("agents", [])}
    residents: list[dict[str, Any]] = []
    for agent in agents:
        player = players.get(agent_player.get(agent["agentId"], ""))
        if player is not None:
            residents.append({"agent": agent, "player": player, "name": player["name"]})
    engine = await tx.get(status["engineId"], table="engines") or {}
    processed = engine.get("processedInputNumber", -1)
    pending = await tx.query(
        "inputs",
        "byInputNumber",
        eq={"engineId": status["engineId"]},
        range=Range("number", gt=float(processed)),
    )
    for item in pending:
        if item["name"] == "createAgent":
            residents.append({"input": item, "name": item["args"].get("name")})
    chosen: list[dict[str, Any] | None] = []
    free = list(residents)
    for character in characters:
        same = next((r for r in free if r["name"] == character["name"]), None)
        if same is not None:
            free.remove(same)
        chosen.append(same)
    for n in range(len(characters)):
        if chosen[n] is None and free:
            chosen[n] = free.pop(0)
    updated = added = 0
    for character, resident in zip(characters, chosen, strict=True):
        if resident is None:
            await insert_input(tx, status["engineId"], "createAgent", dict(character))
            added += 1
        elif "input" in resident:
            await tx.patch(resident["input"]["_id"], {"args": dict(character)})
            updated += 1
        else:
            await tx.patch(
                resident["agent"]["_id"],
                {"identity": character["identity"], "plan": character["plan"]},
            )
            await tx.patch(
                resident["player"]["_id"],
                {
                    "name": character["name"],
                    "description": character["description"],
                    "character": character["character"],
                },
            )
            updated += 1
    return Imported(world_id, False, updated, added, len(free), 0, 0, 0, map_changed)


class _Counting:
    """A transaction that counts the documents written through it."""

    def __init__(self, tx: Any) -> None:
        self._tx = tx
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._tx, name)
        if name in ("insert", "patch", "replace", "delete"):

            async def counted(*args: Any, **kwargs: Any) -> Any:
                self.writes += 1
                return await attr(*args, **kwargs)

            return counted
        return attr


class _Files:
    """Images and sheets into file storage, each distinct content once; what earlier
    imports stored is used again."""

    def __init__(self, store: Store, records: list[dict[str, Any]]) -> None:
        self.store = store
        self.known = {f["sha256"]: f["storageId"] for r in records for f in r.get("files", [])}
        self.used: dict[str, str] = {}
        self.stored = self.reused = self.documents = 0

    async def image(self, image: Image) -> str:
        return await self._put(image.path.read_bytes(), image.content_type)

    async def json(self, value: Any) -> str:
        data = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        return await self._put(data, "application/json")

    async def _put(self, data: bytes, content_type: str) -> str:
        digest = stored_files.sha256_of(data)
        if digest not in self.used:
            storage_id = self.known.get(digest)
            meta = await stored_files.metadata(self.store, storage_id) if storage_id else None
            if meta is not None and meta.get("sha256") == digest:
                self.reused += 1
            else:
                storage_id = await stored_files.store_bytes(self.store, data, content_type)
                self.stored += 1
                self.documents += 1 + -(-len(data) // stored_files.CHUNK)
            assert storage_id is not None
            self.used[digest] = storage_id
        return f"/api/storage/{self.used[digest]}"

    def kept(self) -> list[dict[str, str]]:
        return [{"sha256": d, "storageId": s} for d, s in sorted(self.used.items())]


def default_name(root: Path) -> str:
    """An import's name when none is given: the checkout folder's."""
    return root.resolve().name
