"""A town `smalltown export` writes imports into AI Town on Convex: each of AI Town's
tables carries only the fields AI Town's validators declare, numbers as Float64 where it
declares `v.number()`; smalltown's own bookkeeping sits in tables of its own.

AI Town's schema is written down here as facts (field names and types), in the shape
language of test_ai_town_page.py; an Int64 in the export (a bare JSON integer) is no
Float64.
"""

from __future__ import annotations

import base64
import json
import struct
import zipfile
from typing import Any

import pytest
from test_agents_talk import Town, meet
from test_ai_town_page import (
    ARCHIVED_CONVERSATION,
    BYTES,
    DESCRIPTIONS,
    ENGINE,
    NUMBER,
    PLAYER,
    STRING,
    WORLD,
    WORLD_MAP,
    WORLD_STATUS,
    mismatch,
)

from fake_llm import FakeLLM
from smalltown.migrate.export import export_zip
from smalltown.migrate.export_json import dumps
from smalltown.worlds import parts
from smalltown.worlds.parts import WORLDS_EXPORT

from helpers import RunningServer, eventually

DOC = {"_id": STRING, "_creationTime": NUMBER}
RETURN_VALUE = ({"kind": ("ok",), "value?": object}, {"kind": ("error",), "message": STRING})

#: AI Town's tables (convex/schema.ts, aiTown/schema.ts, agent/schema.ts, engine/schema.ts)
AI_TOWN_TABLES: dict[str, Any] = {
    "worlds": WORLD,
    "worldStatus": WORLD_STATUS,
    "engines": ENGINE,
    "maps": WORLD_MAP,
    "playerDescriptions": DESCRIPTIONS["playerDescriptions"][0],
    "agentDescriptions": DESCRIPTIONS["agentDescriptions"][0],
    "archivedPlayers": {**DOC, "worldId": STRING, **PLAYER},
    "archivedConversations": ARCHIVED_CONVERSATION,
    "archivedAgents": {
        **DOC,
        "worldId": STRING,
        "id": STRING,
        "playerId": STRING,
        "toRemember?": STRING,
        "lastConversation?": NUMBER,
        "lastInviteAttempt?": NUMBER,
        "inProgressOperation?": {"name": STRING, "operationId": STRING, "started": NUMBER},
    },
    "participatedTogether": {
        **DOC,
        "worldId": STRING,
        "conversationId": STRING,
        "player1": STRING,
        "player2": STRING,
        "ended": NUMBER,
    },
    "messages": {
        **DOC,
        "conversationId": STRING,
        "messageUuid": STRING,
        "author": STRING,
        "text": STRING,
        "worldId?": STRING,
    },
    "inputs": {
        **DOC,
        "engineId": STRING,
        "number": NUMBER,
        "name": STRING,
        "args": object,
        "returnValue?": RETURN_VALUE,
        "received": NUMBER,
    },
    "memories": {
        **DOC,
        "playerId": STRING,
        "description": STRING,
        "embeddingId": STRING,
        "importance": NUMBER,
        "lastAccess": NUMBER,
        "data": (
            {"type": ("relationship",), "playerId": STRING},
            {"type": ("conversation",), "conversationId": STRING, "playerIds": [STRING]},
            {"type": ("reflection",), "relatedMemoryIds": [STRING]},
        ),
    },
    "memoryEmbeddings": {**DOC, "playerId": STRING, "embedding": [NUMBER]},
    "embeddingsCache": {**DOC, "textHash": BYTES, "embedding": [NUMBER]},
    "music": {**DOC, "storageId": STRING, "type": ("background", "player")},
}


def as_exported(value: Any) -> Any:
    """An export's JSON with its Int64s (bare integers) tagged, so a Float64 check fails
    on them as on the wire; ``{"$float": base64}`` (how the export writes a Float64 whose
    shortest form needs an exponent, as Convex's does) is a Float64."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return {"$integer": str(value)}
    if isinstance(value, list):
        return [as_exported(v) for v in value]
    if isinstance(value, dict) and set(value) == {"$float"}:
        return struct.unpack("<d", base64.b64decode(value["$float"]))[0]
    if isinstance(value, dict):
        return {k: as_exported(v) for k, v in value.items()}
    return value


@pytest.mark.timeout(150)
async def test_an_exported_town_fits_ai_towns_schema(tmp_path):
    """A world where a person talked with a resident, who remembered it: every row of
    every AI Town table in its export fits AI Town's validators."""
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        town = await Town().open(tmp_path, llm_server.url)
        try:
            human, _, conversation = await meet(town)
            await town.say(human, conversation, "m-1", "Good morning!")
            fake.default_reply = "Morning! Lovely weather."

            async def answered():
                await town.step()
                return len(await town.messages()) >= 2

            await eventually(answered, timeout=60)
            fake.replies.extend(["I greeted a newcomer this morning.", "4"])
            await town.send(
                "leaveConversation", {"playerId": human, "conversationId": conversation}
            )

            async def remembered():
                await town.step()
                return bool(await town.store.read(lambda tx: tx.query("memories")))

            await eventually(remembered, timeout=60)
            await town.send("leave", {"playerId": human})
            await town.step(2)
            counts = await export_zip(town.store, tmp_path / "town.zip", shape=WORLDS_EXPORT)
            world = await town.world()  # as AI Town's page reads it (world:worldState)
        finally:
            await town.close()
    for table in ("worlds", "messages", "memories", "archivedConversations", "archivedPlayers"):
        assert counts[table] >= 1, (table, counts)
    assert counts["smalltownWorlds"] == 1  # the bookkeeping, in a table of smalltown's own
    assert parts.TABLE not in counts  # worlds leave whole, in AI Town's shape
    with zipfile.ZipFile(tmp_path / "town.zip") as archive:
        (exported,) = map(json.loads, archive.read("worlds/documents.jsonl").decode().splitlines())
        assert parts.TABLE not in archive.read("_tables/documents.jsonl").decode()
    assert exported["agents"] and exported == json.loads(dumps(world))
    with zipfile.ZipFile(tmp_path / "town.zip") as archive:
        for table, shape in AI_TOWN_TABLES.items():
            if table not in counts:
                continue  # a table the town never made (music)
            text = archive.read(f"{table}/documents.jsonl").decode()
            for n, line in enumerate(text.splitlines(), 1):
                problem = mismatch(as_exported(json.loads(line)), shape, f"{table}:{n}")
                assert problem is None, problem
    assert mismatch(as_exported({"x": 1, "y": 2.0}), {"x": NUMBER, "y": NUMBER}) is not None
    tiny = {"$float": base64.b64encode(struct.pack("<d", -2.1e-33)).decode()}
    assert as_exported({"e": [tiny]}) == {"e": [-2.1e-33]}
