"""The town on a real server: the default world, its runner, humans joining and acting."""

import httpx
import pytest

from fake_llm import FakeLLM, FakeLLMServer
from smalltown.llm import LLMUnavailable
from smalltown.llm.http_provider import Backoff
from smalltown.server import create_app

from helpers import RunningServer, eventually


@pytest.fixture
async def town(store_url, monkeypatch):
    """The town on a real server, once per store provider, ten times as fast as real time."""
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(store_url, "smalltown.town")
    async with RunningServer(app) as s, httpx.AsyncClient(base_url=s.url, timeout=30) as client:
        yield client


async def call(client, kind, path, args, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = await client.post(f"/api/{kind}", json={"path": path, "args": args}, headers=headers)
    body = reply.json()
    return body


async def value(client, kind, path, args, token=None):
    body = await call(client, kind, path, args, token)
    assert body["status"] == "success", body
    return body["value"]


async def joined_player(client, world_id, name):
    joined = await value(
        client,
        "mutation",
        "world:joinWorld",
        {"worldId": world_id, "name": name, "character": "f1"},
    )
    status = {}

    async def processed():
        status["v"] = await value(
            client, "query", "aiTown/main:inputStatus", {"inputId": joined["inputId"]}
        )
        return status["v"] is not None

    await eventually(processed, timeout=15)
    assert status["v"]["kind"] == "ok"
    return status["v"]["value"], joined["token"]


@pytest.mark.timeout(120)
async def test_the_default_town_runs_and_people_can_play(town):
    status = await value(town, "query", "world:defaultWorldStatus", {})
    world_id, engine_id = status["worldId"], status["engineId"]

    async def residents():
        d = await value(town, "query", "world:gameDescriptions", {"worldId": world_id})
        return len(d["agentDescriptions"]) == 5 and d["worldMap"]["width"] == 48

    await eventually(residents, timeout=15)
    descriptions = await value(town, "query", "world:gameDescriptions", {"worldId": world_id})
    assert {d["name"] for d in descriptions["playerDescriptions"]} >= {"Marisol", "Wren"}

    me, token = await joined_player(town, world_id, "Ada")
    _, other_token = await joined_player(town, world_id, "Bob")
    state = await value(town, "query", "world:worldState", {"worldId": world_id})
    mine = next(p for p in state["world"]["players"] if p["id"] == me)
    start = mine["position"]

    # Walk somewhere: only my token can move me.
    target = {"x": 24.0, "y": 15.0} if start != {"x": 24.0, "y": 15.0} else {"x": 24.0, "y": 16.0}
    refused = await call(
        town,
        "mutation",
        "world:sendWorldInput",
        {"engineId": engine_id, "name": "moveTo", "args": {"playerId": me, "destination": target}},
        other_token,
    )
    assert refused["status"] == "error" and "not yours" in refused["errorMessage"]
    anonymous = await call(
        town,
        "mutation",
        "world:sendWorldInput",
        {"engineId": engine_id, "name": "moveTo", "args": {"playerId": me, "destination": target}},
    )
    assert anonymous["status"] == "error"
    await value(
        town,
        "mutation",
        "world:sendWorldInput",
        {"engineId": engine_id, "name": "moveTo", "args": {"playerId": me, "destination": target}},
        token,
    )

    async def moved():
        s = await value(town, "query", "world:worldState", {"worldId": world_id})
        p = next(p for p in s["world"]["players"] if p["id"] == me)
        return p["position"] != start

    await eventually(moved, timeout=15)

    # Invite a resident: it accepts a human at once and walks over.
    agent_player = state["world"]["agents"][0]["playerId"]
    await value(
        town,
        "mutation",
        "world:sendWorldInput",
        {
            "engineId": engine_id,
            "name": "startConversation",
            "args": {"playerId": me, "invitee": agent_player},
        },
        token,
    )

    async def accepted():
        s = await value(town, "query", "world:worldState", {"worldId": world_id})
        for c in s["world"]["conversations"]:
            kinds = {p["playerId"]: p["status"]["kind"] for p in c["participants"]}
            if kinds.get(me) and kinds.get(agent_player) in ("walkingOver", "participating"):
                return True
        return False

    await eventually(accepted, timeout=15)

    # They meet; the person speaks first (they invited), the resident answers.
    async def talking():
        s = await value(town, "query", "world:worldState", {"worldId": world_id})
        for c in s["world"]["conversations"]:
            kinds = {p["playerId"]: p["status"]["kind"] for p in c["participants"]}
            if kinds.get(me) == "participating" and kinds.get(agent_player) == "participating":
                return c["id"]
        return None

    await eventually(talking, timeout=60)
    conversation = await talking()
    await value(
        town,
        "mutation",
        "messages:writeMessage",
        {
            "worldId": world_id,
            "conversationId": conversation,
            "messageUuid": "ada-1",
            "playerId": me,
            "text": "Hello! Lovely day for a walk.",
        },
        token,
    )
    refused = await call(
        town,
        "mutation",
        "messages:writeMessage",
        {
            "worldId": world_id,
            "conversationId": conversation,
            "messageUuid": "bob-1",
            "playerId": me,
            "text": "I am Ada, honest",
        },
        other_token,
    )
    assert refused["status"] == "error" and "not yours" in refused["errorMessage"]

    async def answered():
        messages = await value(
            town,
            "query",
            "messages:listMessages",
            {"worldId": world_id, "conversationId": conversation},
        )
        return [m["author"] for m in messages][:2] == [me, agent_player]

    await eventually(answered, timeout=60)
    # Agent-side inputs cannot be sent from outside.
    forged = await call(
        town,
        "mutation",
        "world:sendWorldInput",
        {"engineId": engine_id, "name": "agentFinishMessage", "args": {}},
        token,
    )
    assert forged["status"] == "error"


async def test_the_map_art_is_served(town):
    reply = await town.get("/assets/town-tiles.png")
    assert reply.status_code == 200 and reply.content[:4] == b"\x89PNG"
    assert (await town.get("/assets/nope.png")).status_code == 404


async def test_admins_stop_and_resume_the_default_world(tmp_path):
    app = create_app(f"sqlite:///{tmp_path}/stop.db", "smalltown.town")
    async with RunningServer(app) as s, httpx.AsyncClient(base_url=s.url, timeout=30) as client:
        refused = await call(client, "mutation", "testing:stop", {})
        assert refused["status"] == "error" and "admin" in refused["errorMessage"]
        admin = {"Authorization": f"Convex {app.state.runtime.auth.admin_key}"}
        reply = await client.post(
            "/api/mutation", json={"path": "testing:stop", "args": {}}, headers=admin
        )
        assert reply.json()["status"] == "success"
        status = await value(client, "query", "world:defaultWorldStatus", {})
        assert status["status"] == "stoppedByDeveloper"
        runner = app.state.service

        async def rounds_pass(n):
            start = runner.rounds
            await eventually(lambda: runner.rounds >= start + n, timeout=10)

        await rounds_pass(2)  # a step already under way when it stopped may still land
        steps = runner.steps
        await rounds_pass(5)
        assert runner.steps == steps  # stopped: the runner passes it by
        state = await value(client, "query", "world:worldState", {"worldId": status["worldId"]})
        await client.post(
            "/api/mutation", json={"path": "testing:resume", "args": {}}, headers=admin
        )
        assert (await value(client, "query", "world:defaultWorldStatus", {}))["status"] == "running"
        await client.post("/api/mutation", json={"path": "testing:stop", "args": {}}, headers=admin)
        await client.post("/api/mutation", json={"path": "testing:kick", "args": {}}, headers=admin)
        assert (await value(client, "query", "world:defaultWorldStatus", {}))["status"] == "running"

        async def stepping_again():
            return app.state.service.steps > steps

        await eventually(stepping_again, timeout=10)
        after = await value(client, "query", "world:worldState", {"worldId": status["worldId"]})
        assert after["engine"]["generationNumber"] > state["engine"]["generationNumber"]


async def test_health_says_which_llm_speaks(tmp_path, monkeypatch):
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SMALLTOWN_EMBEDDINGS", raising=False)
    app = create_app(f"sqlite:///{tmp_path}/h.db", "smalltown.town")
    async with RunningServer(app) as s, httpx.AsyncClient(base_url=s.url) as client:
        app_health = (await client.get("/health")).json()["app"]
        assert app_health["llm"].startswith("offline brain")
        assert app_health["embedder"].startswith("offline all-MiniLM-L6-v2")
        assert app_health["cost"] == {"usd": 0.0, "basis": "offline: no LLM is called"}
        metrics = (await client.get("/metrics")).text
        assert "smalltown_llm_cost_usd 0.0" in metrics
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    app = create_app(f"sqlite:///{tmp_path}/h2.db", "smalltown.town")
    async with RunningServer(app) as s, httpx.AsyncClient(base_url=s.url) as client:
        app_health = (await client.get("/health")).json()["app"]
        assert app_health["llm"].startswith("ollama at http://127.0.0.1:9")
        assert "OLLAMA_HOST" in app_health["llm"]
        assert app_health["usage"]["failures"] >= 1  # probing the unreachable embedder
        assert "cannot reach" in app_health["usage"]["lastError"]
        assert app_health["cost"]["usd"] == 0.0 and app_health["cost"]["basis"].startswith("local")
        metrics = (await client.get("/metrics")).text
        failures = next(
            float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("smalltown_llm_failures ")
        )
        assert failures >= 1
        assert "smalltown_llm_prompt_tokens 0.0" in metrics


async def test_health_says_the_llm_is_degraded_while_it_fails_and_clears_on_success(
    tmp_path, monkeypatch
):
    fake = FakeLLM()
    llm_server = FakeLLMServer(fake)
    await llm_server.start()
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "OLLAMA_HOST", "SMALLTOWN_EMBEDDINGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_API_URL", f"{llm_server.url}/v1")
    app = create_app(f"sqlite:///{tmp_path}/degraded.db", "smalltown.town")
    try:
        async with RunningServer(app) as s, httpx.AsyncClient(base_url=s.url) as client:
            provider = app.state.runtime.extensions["llm"]
            now = [0.0]  # the back-off's clock: the test says when its waits are over
            provider.retry_delays = (0.01,)
            provider.backoff = Backoff(base=1.0, clock=lambda: now[0])
            hi = [{"role": "user", "content": "hi"}]

            async def health():
                reply = await client.get("/health")
                assert reply.status_code == 200, reply.text  # the town still serves
                return reply.json()

            assert (await health())["app"]["llmStatus"] == "ok"
            await llm_server.stop()  # the LLM goes away
            with pytest.raises(LLMUnavailable):
                await provider.chat(hi)
            body = await health()
            assert body["status"] == "degraded" and body["app"]["llmStatus"] == "degraded"
            outage = body["app"]["llmOutage"]["llm"]
            assert "cannot reach" in outage["lastError"] and outage["failuresInARow"] >= 1

            await llm_server.start()  # it is back: the first call after the wait succeeds
            now[0] += 60.0

            async def answered():
                try:
                    return (await provider.chat(hi)).text
                except LLMUnavailable:  # the town's own call tried first and is under way
                    return None

            await eventually(answered, "a call to the LLM to succeed again")
            body = await health()
            assert body["status"] == "ok" and body["app"]["llmStatus"] == "ok"
            assert "llmOutage" not in body["app"] and body["app"]["usage"]["lastError"] is None
    finally:
        await llm_server.stop()
