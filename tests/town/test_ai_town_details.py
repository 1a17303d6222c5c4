"""Details AI Town's page relies on: the Freeze button's setting, the previous
conversation it shows, the tune it plays and the whole URLs of assets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smalltown.config import SettingError, Settings
from smalltown.runtime import ANONYMOUS, ConvexError, Registry, Runtime, session_identity
from smalltown.store import open_store
from smalltown.town.defaults import town_map
from smalltown.town.schema import schema
from smalltown.worlds.creation import create_world

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = Registry.from_package("smalltown.town")


@pytest.fixture
async def town(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/details.db")
    runtime = await Runtime.create(store, schema, REGISTRY)
    world_id = await create_world(store, town_map(), [])
    yield runtime, world_id
    await store.close()


async def _status(runtime, world_id):
    return await runtime.store.read(
        lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": world_id})
    )


async def test_viewers_freeze_only_when_the_operator_lets_them(town):
    runtime, world_id = town
    guest = session_identity("a-tab")
    assert (await runtime.query("testing:stopAllowed", {}, guest)).value is False
    with pytest.raises(ConvexError, match="admin key"):
        await runtime.mutation("testing:stop", {}, guest)
    assert (await _status(runtime, world_id))["status"] == "running"

    runtime.extensions["viewers_may_freeze"] = True
    assert (await runtime.query("testing:stopAllowed", {}, ANONYMOUS)).value is True
    await runtime.mutation("testing:stop", {}, guest)
    assert (await _status(runtime, world_id))["status"] == "stoppedByDeveloper"
    await runtime.mutation("testing:resume", {}, ANONYMOUS)
    assert (await _status(runtime, world_id))["status"] == "running"
    # the button's world only: naming a world, or kicking one, stays the admin's
    with pytest.raises(ConvexError, match="admin key"):
        await runtime.mutation("testing:stop", {"worldId": world_id}, guest)
    with pytest.raises(ConvexError, match="admin key"):
        await runtime.mutation("testing:kick", {}, guest)


async def test_the_previous_conversation_is_the_last_one_with_words(town):
    """AI Town's panel shows the previous conversation's words: one where nobody spoke
    is passed over, even when it is the latest."""
    runtime, world_id = town

    async def fill(tx):
        for conversation, ended, said in (("c:1", 1000.0, 3.0), ("c:2", 2000.0, 0.0)):
            await tx.insert(
                "archivedConversations",
                {
                    "worldId": world_id,
                    "id": conversation,
                    "creator": "p:1",
                    "created": ended - 500,
                    "ended": ended,
                    "numMessages": said,
                    "participants": ["p:1", "p:2"],
                },
            )
            for p1, p2 in (("p:1", "p:2"), ("p:2", "p:1")):
                await tx.insert(
                    "participatedTogether",
                    {
                        "worldId": world_id,
                        "conversationId": conversation,
                        "player1": p1,
                        "player2": p2,
                        "ended": ended,
                    },
                )

    await runtime.store.run(fill)
    found = await runtime.query(
        "world:previousConversation", {"worldId": world_id, "playerId": "p:1"}
    )
    assert found.value["id"] == "c:1"
    nobody = await runtime.query(
        "world:previousConversation", {"worldId": world_id, "playerId": "p:9"}
    )
    assert nobody.value is None


async def test_asset_urls_are_whole_under_the_public_url(town):
    runtime, world_id = town
    runtime.extensions["public_url"] = "https://town.example.org"
    described = await runtime.query("world:gameDescriptions", {"worldId": world_id})
    assert described.value["worldMap"]["tileSetUrl"] == (
        "https://town.example.org/assets/town-tiles.png"
    )
    tune = await runtime.query("music:getBackgroundMusic", {})
    assert tune.value == "https://town.example.org/assets/town-tune.wav"


def test_the_public_url_setting():
    assert Settings(host="0.0.0.0", port=8123).base_url == "http://127.0.0.1:8123"
    assert Settings(host="10.0.0.5").base_url == "http://10.0.0.5:8000"
    given = Settings.from_env({"SMALLTOWN_PUBLIC_URL": "https://town.example.org/"})
    assert given.base_url == "https://town.example.org"
    with pytest.raises(SettingError, match="SMALLTOWN_PUBLIC_URL"):
        Settings.from_env({"SMALLTOWN_PUBLIC_URL": "town.example.org"})
    with pytest.raises(SettingError, match="SMALLTOWN_VIEWERS_MAY_FREEZE"):
        Settings.from_env({"SMALLTOWN_VIEWERS_MAY_FREEZE": "maybe"})
    assert Settings.from_env({"SMALLTOWN_VIEWERS_MAY_FREEZE": "1"}).viewers_may_freeze


def test_the_committed_tune_is_what_the_script_composes(tmp_path):
    tune = ROOT / "src" / "smalltown" / "town" / "assets" / "town-tune.wav"
    before = tune.read_bytes()
    assert before[:4] == b"RIFF" and before[8:12] == b"WAVE"
    script = ROOT / "scripts" / "make_tune.py"
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True, timeout=60)
    assert tune.read_bytes() == before
