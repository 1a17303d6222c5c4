"""A synthetic AI Town export (its tables as AI Town shapes them, our own data) becomes a
living smalltown town: it imports, its engine resumes and its memories are searchable."""

import base64
import hashlib
import json
import zipfile

from smalltown.migrate.import_zip import import_zip
from smalltown.runtime import ANONYMOUS, Registry, Runtime
from smalltown.store import encode_id, open_store
from smalltown.store.ids import new_internal_id
from smalltown.town.schema import schema
from smalltown.worlds.runner import WorldRunner

NUMBERS = {  # an AI Town deployment's own table numbers
    "worlds": 10021,
    "worldStatus": 10022,
    "engines": 10023,
    "maps": 10024,
    "playerDescriptions": 10025,
    "agentDescriptions": 10026,
    "messages": 10027,
    "memories": 10028,
    "memoryEmbeddings": 10029,
    "embeddingsCache": 10030,
    "inputs": 10031,
}
T0 = 1773731010136.8516
DIMS = 1024


def new_id(table):
    return encode_id(NUMBERS[table], new_internal_id())


def ai_town_export(path, others=None):
    """AI Town's tables; ``others``: more tables (name → (number, documents)) that other
    functions of the same deployment wrote."""
    world_id, engine_id = new_id("worlds"), new_id("engines")
    w, h = 16, 12
    player = lambda pid, x, y, human=None: {  # noqa: E731
        "id": pid,
        "lastInput": T0,
        "position": {"x": float(x), "y": float(y)},
        "facing": {"dx": 0.0, "dy": 1.0},
        "speed": 0.0,
        **({"human": human} if human else {}),
    }
    world = {
        "_id": world_id,
        "_creationTime": T0,
        "nextId": 6.0,
        "players": [player("p:0", 2, 2), player("p:1", 12, 8), player("p:4", 5, 5, "user|x")],
        "agents": [
            {"id": "a:2", "playerId": "p:0", "lastConversation": T0 - 100000.0},
            {"id": "a:3", "playerId": "p:1"},
        ],
        "conversations": [],
        "historicalLocations": [],
    }
    embedding = [0.0] * DIMS
    embedding[7] = 1.0
    embedding_id = new_id("memoryEmbeddings")
    rows = {
        "worlds": [world],
        "worldStatus": [
            {
                "_id": new_id("worldStatus"),
                "_creationTime": T0,
                "worldId": world_id,
                "isDefault": True,
                "engineId": engine_id,
                "lastViewed": T0,
                "status": "running",
            }
        ],
        "engines": [
            {
                "_id": engine_id,
                "_creationTime": T0,
                "currentTime": T0,
                "lastStepTs": T0,
                "processedInputNumber": 4.0,
                "running": True,
                "generationNumber": 17.0,
            }
        ],
        "maps": [
            {
                "_id": new_id("maps"),
                "_creationTime": T0,
                "worldId": world_id,
                "width": float(w),
                "height": float(h),
                "tileSetUrl": "/ai-town/tiles.png",
                "tileSetDimX": 1440.0,
                "tileSetDimY": 1024.0,
                "tileDim": 32.0,
                "bgTiles": [[[0.0] * h for _ in range(w)]],
                "objectTiles": [[[-1.0] * h for _ in range(w)]],
                "animatedSprites": [],
            }
        ],
        "playerDescriptions": [
            {
                "_id": new_id("playerDescriptions"),
                "_creationTime": T0,
                "worldId": world_id,
                "playerId": pid,
                "name": name,
                "description": "a resident",
                "character": "f1",
            }
            for pid, name in (("p:0", "Olga"), ("p:1", "Piet"), ("p:4", "Me"))
        ],
        "agentDescriptions": [
            {
                "_id": new_id("agentDescriptions"),
                "_creationTime": T0,
                "worldId": world_id,
                "agentId": aid,
                "identity": "a resident",
                "plan": "to talk",
            }
            for aid in ("a:2", "a:3")
        ],
        "messages": [
            {
                "_id": new_id("messages"),
                "_creationTime": T0,
                "worldId": world_id,
                "conversationId": "c:5",
                "messageUuid": "u1",
                "author": "p:0",
                "text": "Fine morning.",
            }
        ],
        "memoryEmbeddings": [
            {"_id": embedding_id, "_creationTime": T0, "playerId": "p:0", "embedding": embedding}
        ],
        "memories": [
            {
                "_id": new_id("memories"),
                "_creationTime": T0,
                "playerId": "p:0",
                "description": "I met Piet by the well.",
                "embeddingId": embedding_id,
                "importance": 6.0,
                "lastAccess": T0,
                "data": {"type": "relationship", "playerId": "p:1"},
            }
        ],
        "embeddingsCache": [
            {
                "_id": new_id("embeddingsCache"),
                "_creationTime": T0,
                "textHash": {"$bytes": base64.b64encode(hashlib.sha256(b"well").digest()).decode()},
                "embedding": embedding,
            }
        ],
        "inputs": [
            {
                "_id": new_id("inputs"),
                "_creationTime": T0,
                "engineId": engine_id,
                "number": float(n),
                "name": "moveTo",
                "args": {},
                "returnValue": {"kind": "ok", "value": None},
                "received": T0,
            }
            for n in range(5)
        ]
        + [
            {
                "_id": new_id("inputs"),
                "_creationTime": T0 + 1,
                "engineId": engine_id,
                "number": 5.0,
                "name": "moveTo",
                "received": T0 + 1,
                "args": {"playerId": "p:4", "destination": {"x": 9.0, "y": 5.0}},
            }
        ],
    }
    numbers = dict(NUMBERS)
    for table, (number, docs) in (others or {}).items():
        numbers[table] = number
        rows[table] = docs
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("README.md", "AI Town export")
        z.writestr(
            "_tables/documents.jsonl",
            "".join(json.dumps({"name": t, "id": n}) + "\n" for t, n in numbers.items()),
        )
        for table, docs in rows.items():
            # uniform export JSON: floats keep their decimal point
            z.writestr(f"{table}/documents.jsonl", "".join(json.dumps(d) + "\n" for d in docs))
            z.writestr(f"{table}/generated_schema.jsonl", '"uniform"\n')
    return world_id, embedding_id


async def test_an_ai_town_export_becomes_a_living_town(tmp_path, store_url):
    store = await open_store(store_url)
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        world_id, embedding_id = ai_town_export(tmp_path / "ai-town.zip")
        report = await import_zip(store, tmp_path / "ai-town.zip")
        assert report.tables["worlds"] == 1 and report.tables["inputs"] == 6
        assert any("1024" in note for note in report.notes)  # the index took the data's size
        assert store.table_numbers["worlds"] == NUMBERS["worlds"]

        described = await runtime.query("world:gameDescriptions", {"worldId": world_id}, ANONYMOUS)
        assert {d["name"] for d in described.value["playerDescriptions"]} == {"Olga", "Piet", "Me"}

        # The engine resumes where AI Town left it: the pending input is taken.
        clock = [T0 + 5000]
        runner = WorldRunner(runtime, clock=lambda: clock[0], on_operations=lambda w, o: None)
        for _ in range(20):
            clock[0] += 1000
            await store.run(lambda tx: _viewed(tx, world_id, clock[0]))
            await runner.step_world(world_id)
        state = await runtime.query("world:worldState", {"worldId": world_id}, ANONYMOUS)
        engine = state.value["engine"]
        assert engine["processedInputNumber"] == 5 and engine["generationNumber"] == 37
        me = next(p for p in state.value["world"]["players"] if p["id"] == "p:4")
        assert me["position"] != {"x": 5.0, "y": 5.0}  # walking towards (9, 5)

        # Its memories are searchable at their own dimension.
        query = [0.0] * DIMS
        query[7] = 1.0
        found = await store.read(
            lambda tx: tx.vector_search(
                "memoryEmbeddings", "embedding", query, limit=1, filter={"playerId": "p:0"}
            )
        )
        assert found[0][0] == embedding_id
    finally:
        await store.close()


async def _viewed(tx, world_id, now):
    status = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
    await tx.patch(status["_id"], {"lastViewed": now})


async def test_an_ai_town_export_with_other_tables_keeps_both(tmp_path, store_url):
    """A deployment that also ran other functions: the town resumes, the rest stays."""
    notes = [
        {"_id": encode_id(10040, new_internal_id()), "_creationTime": T0 + i, "text": f"n{i}"}
        for i in range(3)
    ]
    store = await open_store(store_url)
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        world_id, _ = ai_town_export(tmp_path / "mixed.zip", {"notes": (10040, notes)})
        report = await import_zip(store, tmp_path / "mixed.zip")
        assert report.tables == report.lines and report.tables["notes"] == 3
        assert report.undeclared == ["notes"] and store.table_numbers["notes"] == 10040
        clock = [T0 + 5000]
        runner = WorldRunner(runtime, clock=lambda: clock[0], on_operations=lambda w, o: None)
        for _ in range(3):
            clock[0] += 1000
            await store.run(lambda tx: _viewed(tx, world_id, clock[0]))
            await runner.step_world(world_id)
        state = await runtime.query("world:worldState", {"worldId": world_id}, ANONYMOUS)
        assert state.value["engine"]["processedInputNumber"] == 5  # the town went on
        kept = await store.read(lambda tx: tx.query("notes"))
        assert kept == notes
    finally:
        await store.close()
