"""End to end on a real server, with the fake LLM on loopback as the only stand-in: two
residents meet, talk, part and remember; their next talk carries the memory; enough
important memories make them reflect. And when the LLM goes away for a game minute, the
world says why, nothing crashes, and the talk resumes when it is back."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest

from fake_llm import FakeLLM, FakeLLMServer, fake_embedding
from smalltown.agents import reflection
from smalltown.server import create_app
from smalltown.town.defaults import many_characters, town_map
from smalltown.town.schema import open_town_store
from smalltown.worlds import admin

from helpers import RunningServer, eventually

NAMES = ("Marisol", "Tobias")  # the first two residents of many_characters


class Script:
    """Rule-based replies: lines that say who speaks, memories that name who remembers,
    every memory rated 9, reflections citing the first two memories."""

    def __init__(self) -> None:
        self.count = itertools.count(1)

    def __call__(self, path: str, body: dict) -> str:
        system, asked = body["messages"][0]["content"], body["messages"][-1]["content"]
        me = re.match(r"You are (\w+)", system).group(1)
        if "On a scale of 0" in asked:
            return "9"
        if "write down what you want to remember" in asked:
            other = re.search(r"You just talked with (\w+)", asked).group(1)
            return f"Memory {next(self.count)}: {me} heard about the lighthouse from {other}."
        if "What three things" in asked:
            return "1. The harbour matters here (1)\n2. People listen (1, 2)\n3. I like it (2)"
        return f"{me} speaks, line {next(self.count)}."


def llm_env(monkeypatch, url: str, scale: str) -> None:
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "OLLAMA_HOST", "SMALLTOWN_EMBEDDINGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_API_URL", f"{url}/v1")
    monkeypatch.setenv("LLM_MODEL", "chatty")
    monkeypatch.setenv("LLM_EMBEDDING_MODEL", "embedder")
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", scale)


async def two_resident_town(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/town.db"
    store = await open_town_store(url)
    try:
        await admin.create(
            store, town_map(), many_characters(2)
        )  # the default world, before the server makes one
    finally:
        await store.close()
    return url


async def read(app, table: str) -> list[dict]:
    return await app.state.store.read(lambda tx: tx.query(table))


async def world_status(client) -> dict:
    """The default world as the page's world list shows it (with why its agents are
    silent, ``smalltownLlmError``)."""
    body = (await client.post("/api/query", json={"path": "world:listWorlds", "args": {}})).json()
    assert body["status"] == "success", body
    return next(w for w in body["value"] if w["isDefault"])


@pytest.mark.timeout(240)
async def test_two_agents_talk_remember_recall_and_reflect(tmp_path, monkeypatch):
    monkeypatch.setattr(reflection, "REFLECTION_THRESHOLD", 10.0)  # two memories rated 9
    fake = FakeLLM(rule=Script())
    async with FakeLLMServer(fake) as llm:
        llm_env(monkeypatch, llm.url, "10")
        app = create_app(await two_resident_town(tmp_path), "smalltown.town")
        async with (
            RunningServer(app) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):
            world = await app.state.store.read(lambda tx: tx.query("worlds"))
            assert len(world) == 1  # the server kept the two-resident world as the default

            async def reflected() -> bool:  # all three insights of one resident stored
                insights = [
                    m["playerId"]
                    for m in await read(app, "memories")
                    if m["data"]["type"] == "reflection"
                ]
                return any(insights.count(p) >= 3 for p in insights)

            await eventually(reflected, timeout=180)

            players = {d["name"]: d["playerId"] for d in await read(app, "playerDescriptions")}
            assert set(players) == set(NAMES)
            talks = await read(app, "archivedConversations")
            assert len(talks) >= 2 and all(
                set(t["participants"]) == set(players.values()) for t in talks
            )
            # Several turns, then they parted (an invite may also have been declined or
            # have lapsed, leaving a conversation of no lines: agents accept 4 times in 5).
            longest = max(talks, key=lambda t: t["numMessages"])
            assert longest["numMessages"] >= 4, talks
            messages = await read(app, "messages")
            first = [m for m in messages if m["conversationId"] == longest["id"]]
            assert {m["author"] for m in first} == set(players.values())
            assert all(re.fullmatch(r"\w+ speaks, line \d+\.", m["text"]) for m in first)

            memories = await read(app, "memories")
            vectors = {e["_id"]: e for e in await read(app, "memoryEmbeddings")}
            chats = fake.chats()
            for name, player in players.items():
                mine = [
                    m
                    for m in memories
                    if m["playerId"] == player and m["data"]["type"] == "conversation"
                ]
                assert mine, f"{name} remembered nothing"
                memory = min(mine, key=lambda m: m["_creationTime"])
                assert memory["description"].endswith(
                    f"{name} heard about the lighthouse from {NAMES[1 - NAMES.index(name)]}."
                )
                assert memory["importance"] == 9.0
                stored = vectors[memory["embeddingId"]]
                assert stored["playerId"] == player
                assert stored["embedding"] == pytest.approx(
                    fake_embedding(memory["description"], fake.dims)
                )
                # A conversation prompt (not a summary's) of this resident carries the memory:
                # so it was made in a talk after the one remembered.
                assert any(
                    body["messages"][0]["content"].startswith(f"You are {name}, who lives")
                    and "What you remember:" in body["messages"][0]["content"]
                    and memory["description"] in body["messages"][0]["content"]
                    for body in chats
                ), f"{name}'s next conversation did not recall {memory['description']!r}"

            insights = [m for m in memories if m["data"]["type"] == "reflection"]
            assert {m["description"] for m in insights} >= {
                "The harbour matters here",
                "People listen",
                "I like it",
            }
            by_id = {m["_id"]: m for m in memories}
            for insight in insights:
                cited = insight["data"]["relatedMemoryIds"]
                assert cited and all(
                    by_id[c]["playerId"] == insight["playerId"]
                    and by_id[c]["data"]["type"] == "conversation"
                    for c in cited
                )
            assert not (await world_status(client)).get("smalltownLlmError")


@pytest.mark.timeout(240)
async def test_a_minute_without_the_llm_is_reported_and_survived(tmp_path, monkeypatch):
    fake = FakeLLM(rule=Script())
    async with FakeLLMServer(fake) as llm:
        llm_env(monkeypatch, llm.url, "20")  # a game minute is three wall seconds
        app = create_app(await two_resident_town(tmp_path), "smalltown.town")
        async with (
            RunningServer(app) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):
            status = await world_status(client)

            async def game_time() -> float:
                engine = await app.state.store.read(
                    lambda tx: tx.get(status["engineId"], table="engines")
                )
                return engine["currentTime"]

            async def talking() -> bool:
                return len(await read(app, "messages")) >= 2

            await eventually(talking, timeout=150)
            await llm.stop()  # connections refused from now on
            went_down = await game_time()

            async def reported() -> bool:
                return bool((await world_status(client)).get("smalltownLlmError"))

            await eventually(reported, timeout=120)
            error = (await world_status(client))["smalltownLlmError"]
            assert "cannot reach" in error and "LLM_API_URL" in error  # why, and the fix

            async def a_game_minute_passed() -> bool:
                return await game_time() >= went_down + 60_000

            await eventually(a_game_minute_passed, timeout=60)
            health = await client.get("/health")
            assert health.status_code == 200 and health.json()["scheduler"]["alive"]
            assert not app.state.service.runner._task.done()  # the world still runs
            said = len(await read(app, "messages"))

            await llm.start()  # back, on the same port

            async def recovered() -> bool:
                status_now = await world_status(client)
                return len(await read(app, "messages")) > said and not status_now.get(
                    "smalltownLlmError"
                )

            await eventually(recovered, timeout=120)
            failed = [
                i
                for i in await read(app, "inputs")
                if i["name"] == "agentOperationFailed"
                and (i.get("returnValue") or {}).get("kind") == "ok"
            ]
            assert failed  # operations did fail while it was away, and freed their agents
