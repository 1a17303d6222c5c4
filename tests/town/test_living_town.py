"""On a real server, on every store provider: the residents of the default town walk to
each other, a conversation reaches participating, its lines arrive through the same
inputs the LLM side uses (here from the offline brain), and it ends after too many
messages. The town runs 20 times as fast as the wall clock."""

import httpx
import pytest

from smalltown.server import create_app

from helpers import RunningServer, call_api_async, eventually

SCALE = "20"


@pytest.mark.timeout(240)
async def test_residents_meet_talk_and_part(store_url, monkeypatch):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", SCALE)
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(store_url, "smalltown.town")
    async with (
        RunningServer(app) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        status = await call_api_async(client, "query", "world:defaultWorldStatus", {})
        world_id = status["worldId"]
        seen_participating = set()

        async def a_conversation_ended():
            state = await call_api_async(client, "query", "world:worldState", {"worldId": world_id})
            for c in state["world"]["conversations"]:
                if all(p["status"]["kind"] == "participating" for p in c["participants"]):
                    seen_participating.add(c["id"])
            ended = await app.state.store.read(lambda tx: tx.query("archivedConversations"))
            return any(c["id"] in seen_participating and c["numMessages"] >= 9 for c in ended)

        await eventually(a_conversation_ended, timeout=180)
        ended = await app.state.store.read(lambda tx: tx.query("archivedConversations"))
        talk = next(c for c in ended if c["id"] in seen_participating and c["numMessages"] >= 9)
        messages = await call_api_async(
            client,
            "query",
            "messages:listMessages",
            {"worldId": world_id, "conversationId": talk["id"]},
        )
        assert len(messages) == talk["numMessages"]
        speakers = {m["author"] for m in messages}
        assert speakers == set(talk["participants"])  # they took turns
        assert all(m["authorName"] and m["text"] for m in messages)
