"""Agents talk through the LLM: the engine asks, a scheduled action calls the (scripted)
LLM on loopback, the line lands in the messages table, and the conversation goes on.
When the LLM cannot be reached, the world says so, with the fix, and agents carry on."""

import pytest

from fake_llm import FakeLLM
from smalltown.engine.world_map import EMPTY, WorldMap
from smalltown.llm import LLMConfig, open_provider
from smalltown.llm.minilm import MiniLMEmbedder
from smalltown.runtime import Registry, Runtime
from smalltown.runtime.context import SCHEDULED
from smalltown.runtime.scheduler import SchedulerWorker
from smalltown.store import open_store
from smalltown.town.defaults import CHARACTERS
from smalltown.town.schema import schema
from smalltown.worlds.creation import create_world
from smalltown.worlds.inputs import insert_input, record_message
from smalltown.worlds.memory_index import fit_memory_index
from smalltown.worlds.parts import read_world
from smalltown.worlds.runner import WorldRunner

from helpers import RunningServer, eventually, refusing_url


def small_map():
    w, h = 10, 8
    return WorldMap(
        w, h, 32, "t.png", 256, 64, [[[0] * h for _ in range(w)]], [[[EMPTY] * h for _ in range(w)]]
    )


def planning(body) -> bool:
    """Whether a chat request was a resident planning its day (see test_day_plans)."""
    asked = body["messages"][-1]["content"]
    return "Plan the rest of your day" in asked or "Break this into" in asked


class Town:
    async def open(self, tmp_path, llm_url, embedder=None, residents=1):
        self.store = await open_store(f"sqlite:///{tmp_path}/talk.db")
        self.runtime = await Runtime.create(
            self.store, schema, Registry.from_package("smalltown.town")
        )
        config = LLMConfig("openai", f"{llm_url}/v1", "chatty", "embedder", None, "LLM_API_URL")
        self.llm = open_provider(config, retry_delays=(0.01,))
        self.runtime.extensions["llm"] = self.llm
        self.embedder = embedder or self.llm
        self.runtime.extensions["embedder"] = self.embedder

        self.worker = SchedulerWorker(self.runtime, poll_seconds=0.02)
        await self.worker.start()
        await fit_memory_index(self.store, self.embedder)  # no-op when it is unreachable
        self.world_id = await create_world(self.store, small_map(), CHARACTERS[:residents])
        self.status = await self.store.read(
            lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": self.world_id})
        )
        self.clock = [self.status["lastViewed"]]
        self.runner = WorldRunner(self.runtime, clock=lambda: self.clock[0])
        return self

    async def step(self, n=1):
        for _ in range(n):
            self.clock[0] += 1000
            await self.store.run(
                lambda tx: tx.patch(self.status["_id"], {"lastViewed": self.clock[0]})
            )
            await self.runner.step_world(self.world_id)
            # The actions the step scheduled run to their end before the next step, so
            # the game clock never outruns them (and a status they set is seen).
            await eventually(self.actions_done, "the scheduled actions to finish", timeout=60)

    async def actions_done(self) -> bool:
        async def unfinished(tx):
            for kind in ("pending", "inProgress"):
                found = await tx.first(SCHEDULED, "by_state_time", eq={"state.kind": kind})
                if found is not None:
                    return found
            return None

        return await self.store.read(unfinished) is None

    async def send(self, name, args):
        engine = self.status["engineId"]
        return await self.store.run(lambda tx: insert_input(tx, engine, name, args))

    async def say(self, player, conversation, uuid, text):
        """A person's line, written as messages:writeMessage writes it."""
        await self.store.run(
            lambda tx: record_message(
                tx,
                self.world_id,
                conversation,
                uuid,
                player,
                text,
                ("finishSendingMessage", {"playerId": player, "timestamp": 0.0}),
            )
        )

    async def world(self):
        return await self.store.read(lambda tx: read_world(tx, self.world_id))

    async def messages(self):
        return await self.store.read(lambda tx: tx.query("messages"))

    async def close(self):
        await self.worker.close()
        await self.llm.close()
        await self.store.close()


async def meet(town, joined=None):
    """A human joins (unless ``joined``) and invites the resident; returns
    (human, agent player, conversation)."""
    if joined is None:
        await town.send("join", {"tokenIdentifier": "ada", "name": "Ada"})
        await town.step()
    world = await town.world()
    human = joined or next(p["id"] for p in world["players"] if p.get("human") == "ada")
    agent = world["agents"][0]["playerId"]
    await town.send("startConversation", {"playerId": human, "invitee": agent})
    for _ in range(40):
        await town.step()
        world = await town.world()
        conversation = next(iter(world["conversations"]), None)
        if conversation and all(
            p["status"]["kind"] == "participating" for p in conversation["participants"]
        ):
            return human, agent, conversation["id"]
    raise AssertionError(
        f"they never met in 40 steps: conversations {world['conversations']}, "
        f"players {world['players']}, agents {world['agents']}"
    )


@pytest.mark.timeout(120)
async def test_an_agent_answers_through_the_llm(tmp_path):
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        town = await Town().open(tmp_path, llm_server.url)
        try:
            human, agent, conversation = await meet(town)
            fake.replies.append('Marisol: "Hello again! The tide brought three blue pieces."')
            await town.say(human, conversation, "m-1", "Found any sea glass today?")

            async def answered():
                await town.step()
                return len(await town.messages()) >= 2

            await eventually(answered, timeout=60)
            reply = (await town.messages())[1]
            assert reply["author"] == agent
            # The name prefix, quotes and the mid-conversation greeting are cleaned away.
            assert reply["text"] == "The tide brought three blue pieces."
            prompt = fake.requests[-1][1]["messages"]
            assert (
                "Marisol" in prompt[0]["content"] and "Found any sea glass" in prompt[1]["content"]
            )
        finally:
            await town.close()


@pytest.mark.timeout(120)
async def test_an_unreachable_llm_is_visible_and_agents_are_not_stuck(tmp_path):
    with refusing_url() as url:
        await _unreachable_llm_is_visible(tmp_path, url)


async def _unreachable_llm_is_visible(tmp_path, url: str) -> None:
    town = await Town().open(tmp_path, url)
    try:
        human, _, conversation = await meet(town)
        await town.send(
            "finishSendingMessage",
            {"playerId": human, "conversationId": conversation, "messageUuid": "m-1"},
        )

        async def reported():
            await town.step()
            health = await town.store.read(
                lambda tx: tx.first(
                    "smalltownWorldHealth", "worldId", eq={"worldId": town.world_id}
                )
            )
            return bool(health and health.get("llmError"))

        await eventually(reported, timeout=60)
        health = await town.store.read(
            lambda tx: tx.first("smalltownWorldHealth", "worldId", eq={"worldId": town.world_id})
        )
        assert "cannot reach" in health["llmError"]
        assert "LLM_API_URL" in health["llmError"]  # the setting that fixes it

        async def released():  # the engine took the failure and freed the agent
            await town.step()
            inputs = await town.store.read(lambda tx: tx.query("inputs"))
            return any(
                i["name"] == "agentOperationFailed"
                and (i.get("returnValue") or {}).get("kind") == "ok"
                for i in inputs
            )

        await eventually(released, timeout=30)
    finally:
        await town.close()


@pytest.mark.timeout(120)
async def test_a_line_the_engine_refuses_is_not_kept(tmp_path):
    """A line written as its speaker left the talk: the engine refuses the input that
    counts it, and the line goes with it, so the messages of a conversation are always
    the ones its ``numMessages`` counts (and no refused line reaches anyone's prompt)."""
    from smalltown.llm.hashed_embeddings import HashedEmbedder
    from smalltown.llm.offline import OfflineBrain

    with refusing_url() as url:
        town = await Town().open(tmp_path, url, HashedEmbedder())
    town.runtime.extensions["llm"] = OfflineBrain()
    try:
        human, _, conversation = await meet(town)
        await town.say(human, conversation, "m-kept", "Good morning!")
        await town.step()
        await town.send("leaveConversation", {"playerId": human, "conversationId": conversation})
        await town.say(human, conversation, "m-late", "One more thing...")  # after leaving
        await town.step()
        inputs = await town.store.read(lambda tx: tx.query("inputs"))
        late = next(i for i in inputs if i["args"].get("messageUuid") == "m-late")
        assert late["returnValue"]["kind"] == "error"
        said = {m["messageUuid"] for m in await town.messages() if m["author"] == human}
        assert said == {"m-kept"}
        ended = await town.store.read(lambda tx: tx.query("archivedConversations"))
        talk = next(c for c in ended if c["id"] == conversation)
        lines = [m for m in await town.messages() if m["conversationId"] == conversation]
        assert len(lines) == talk["numMessages"]
    finally:
        await town.close()


@pytest.mark.timeout(120)
async def test_with_no_llm_the_offline_brain_still_talks(tmp_path):
    from smalltown.llm.hashed_embeddings import HashedEmbedder
    from smalltown.llm.offline import OfflineBrain

    # Nothing on the network: the offline brain speaks and an embedder on this machine
    # serves its recall (the LLM URL is never answered).
    with refusing_url() as url:
        town = await Town().open(tmp_path, url, HashedEmbedder())
    town.runtime.extensions["llm"] = OfflineBrain()
    try:
        human, agent, conversation = await meet(town)
        await town.send(
            "finishSendingMessage",
            {"playerId": human, "conversationId": conversation, "messageUuid": "m-1"},
        )

        async def answered():
            await town.step()
            return any(m["author"] == agent for m in await town.messages())

        await eventually(answered, timeout=60)
        line = next(m["text"] for m in await town.messages() if m["author"] == agent)
        assert line and "{" not in line  # a filled template, not a placeholder
    finally:
        await town.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("embedder", ["provider", "minilm"])
async def test_after_a_conversation_the_agent_remembers_it(tmp_path, embedder):
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        # Memories of 8 dimensions from the provider, or of 384 from MiniLM on this machine.
        minilm = MiniLMEmbedder() if embedder == "minilm" else None
        town = await Town().open(tmp_path, llm_server.url, minilm)
        try:
            human, agent, conversation = await meet(town)
            await town.say(human, conversation, "m-1", "The bakery smells wonderful.")
            fake.default_reply = "Thank you, come by tomorrow."

            async def answered():
                await town.step()
                return len(await town.messages()) >= 2

            await eventually(answered, timeout=60)
            fake.replies.extend(["I met Ada, who loves the smell of the bakery.", "7"])
            await town.send(
                "leaveConversation", {"playerId": human, "conversationId": conversation}
            )

            async def remembered():
                await town.step()
                return bool(await town.store.read(lambda tx: tx.query("memories")))

            await eventually(remembered, timeout=60)
            (memory,) = await town.store.read(lambda tx: tx.query("memories"))
            assert memory["playerId"] == agent and memory["importance"] == 7.0
            assert memory["description"] == "I met Ada, who loves the smell of the bakery."
            assert memory["data"] == {
                "type": "conversation",
                "conversationId": conversation,
                "playerIds": [agent, human],
            }
            (about,) = await town.embedder.embed(["an aroma from a bread shop"])
            found = await town.store.read(
                lambda tx: tx.vector_search(
                    "memoryEmbeddings", "embedding", about, filter={"playerId": agent}
                )
            )
            assert [id for id, _ in found] == [memory["embeddingId"]]
            (want,) = await town.embedder.embed([memory["description"]])
            stored = await town.store.read(
                lambda tx: tx.get(memory["embeddingId"], table="memoryEmbeddings")
            )
            assert len(stored["embedding"]) == (384 if minilm else 8)
            assert stored["embedding"] == pytest.approx(want, abs=1e-6)
            if minilm:
                (unrelated,) = await town.embedder.embed(["quarterly tax filings"])
                assert (
                    found[0][1]
                    > 0.3
                    > 0.1
                    > sum(  # close in meaning, no word in common
                        p * q for p, q in zip(want, unrelated, strict=True)
                    )
                )
            assert len(await town.store.read(lambda tx: tx.query("embeddingsCache"))) >= 1

            # Next time they meet, the agent's prompt carries what it remembers.
            _, _, again = await meet(town, joined=human)
            await town.send(
                "finishSendingMessage",
                {"playerId": human, "conversationId": again, "messageUuid": "m-2"},
            )

            async def answered_again():
                await town.step()
                return any(
                    m["conversationId"] == again and m["author"] == agent
                    for m in await town.messages()
                )

            await eventually(answered_again, timeout=60)
            prompt = next(
                body["messages"][0]["content"]
                for path, body, _ in reversed(fake.requests)
                if path == "/v1/chat/completions"
            )
            assert "What you remember:" in prompt and "smell of the bakery" in prompt
        finally:
            await town.close()


@pytest.mark.timeout(120)
async def test_enough_important_memories_lead_to_reflection(tmp_path, monkeypatch):
    from smalltown.agents import reflection

    monkeypatch.setattr(reflection, "REFLECTION_THRESHOLD", 5.0)
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        town = await Town().open(tmp_path, llm_server.url)
        try:
            human, agent, conversation = await meet(town)
            await town.say(human, conversation, "m-1", "Your rye is the best.")
            fake.replies.extend(
                [
                    "Ada praised my rye bread.",
                    "8",  # the memory and its importance
                    "1. People here love my rye (1)\n2. Ada notices details (1)\n3. I should bake "
                    "more (1, 9)",
                    "6",
                    "5",
                    "4",  # three insights, each rated
                ]
            )
            await town.send(
                "leaveConversation", {"playerId": human, "conversationId": conversation}
            )

            async def reflected():
                await town.step()
                memories = await town.store.read(lambda tx: tx.query("memories"))
                return sum(m["data"]["type"] == "reflection" for m in memories) == 3

            await eventually(reflected, timeout=60)
            memories = await town.store.read(lambda tx: tx.query("memories"))
            source = next(m for m in memories if m["data"]["type"] == "conversation")
            insights = [m for m in memories if m["data"]["type"] == "reflection"]
            assert {m["description"] for m in insights} == {
                "People here love my rye",
                "Ada notices details",
                "I should bake more",
            }
            assert all(m["data"]["relatedMemoryIds"] == [source["_id"]] for m in insights)
            assert sorted(m["importance"] for m in insights) == [4.0, 5.0, 6.0]
            assert all(m["playerId"] == agent for m in insights)
        finally:
            await town.close()


@pytest.mark.timeout(120)
async def test_a_rated_summary_needs_no_second_call_and_small_talk_no_reflection(
    tmp_path, monkeypatch
):
    from smalltown.agents import reflection

    monkeypatch.setattr(reflection, "REFLECTION_THRESHOLD", 1.0)  # due after one memory
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        town = await Town().open(tmp_path, llm_server.url)
        try:
            human, _, conversation = await meet(town)
            await town.say(human, conversation, "m-1", "Nice weather.")
            fake.default_reply = "It is."

            async def answered():
                await town.step()
                return len(await town.messages()) >= 2

            await eventually(answered, timeout=60)
            asked_before = len(fake.chats())
            fake.replies.append("Ada and I agreed the weather is nice.\nImportance: 3")
            await town.send(
                "leaveConversation", {"playerId": human, "conversationId": conversation}
            )

            async def remembered():
                await town.step()
                return bool(await town.store.read(lambda tx: tx.query("memories")))

            await eventually(remembered, timeout=60)
            await town.step(2)  # the operation (and any reflection after it) has ended
            (memory,) = await town.store.read(lambda tx: tx.query("memories"))
            assert memory["description"] == "Ada and I agreed the weather is nice."
            assert memory["importance"] == 3.0
            # One call: the summary with its rating; no rating call, and no reflection
            # (due by the lowered threshold, but nothing in it mattered much).
            (summary,) = [c for c in fake.chats()[asked_before:] if not planning(c)]
            assert "write down what you want to remember" in summary["messages"][-1]["content"]
        finally:
            await town.close()


@pytest.mark.timeout(120)
async def test_an_empty_reply_is_refused_and_the_agent_tries_again(tmp_path):
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        town = await Town().open(tmp_path, llm_server.url)
        try:
            human, agent, conversation = await meet(town)
            fake.replies.extend(['"  "', "The kettle is on."])  # nothing but quotes, then a line
            fake.fail("empty")  # the recall's embedding comes back empty: speak without it
            await town.say(human, conversation, "m-1", "Anyone home?")

            async def status():
                health = await town.store.read(
                    lambda tx: tx.first(
                        "smalltownWorldHealth", "worldId", eq={"worldId": town.world_id}
                    )
                )
                return {"smalltownLlmError": (health or {}).get("llmError")}

            async def refused():
                await town.step()
                return "empty reply" in ((await status()).get("smalltownLlmError") or "")

            await eventually(refused, timeout=60)

            async def answered():
                await town.step()
                return any(m["author"] == agent for m in await town.messages())

            await eventually(answered, timeout=60)
            said = [m["text"] for m in await town.messages() if m["author"] == agent]
            assert said == ["The kettle is on."]  # neither blank was said
            assert not (await status()).get("smalltownLlmError")  # cleared by the line
        finally:
            await town.close()


@pytest.mark.timeout(120)
async def test_a_job_left_under_a_retired_path_fails_once_and_the_agent_is_freed(tmp_path):
    """A database from before agents' actions moved to ``aiTown/agentOperations`` may hold
    jobs scheduled as ``agentOps:*``: each fails as not found, once, the scheduler carries
    on, and the engine drops the operation when its answer is overdue, so the agent goes on
    talking."""
    import time

    from smalltown.engine.constants import AGENT_OPERATION_TIMEOUT_MS
    from smalltown.runtime.context import SCHEDULED

    with refusing_url() as url:
        town = await Town().open(tmp_path, url)
    asked = []  # operations the engine starts; none is scheduled under the new path here
    town.runner = WorldRunner(
        town.runtime, clock=lambda: town.clock[0], on_operations=lambda _, ops: asked.extend(ops)
    )
    try:
        human, agent, conversation = await meet(town)
        await town.say(human, conversation, "m-1", "Anyone there?")

        async def operation_started():
            await town.step()
            return any(o.name == "generateMessage" for o in asked)

        await eventually(operation_started, timeout=30)
        operation = next(o for o in asked if o.name == "generateMessage")
        old = {
            "name": "agentOps:generateMessage",
            "args": [
                {"worldId": town.world_id, "operationId": operation.operation_id, **operation.args}
            ],
            "scheduledTime": time.time() * 1000,
            "state": {"kind": "pending"},
        }
        job_id = await town.store.run(lambda tx: tx.insert(SCHEDULED, old))

        async def job():
            return await town.store.read(lambda tx: tx.get(job_id, table=SCHEDULED))

        async def finished():
            return (await job())["state"]["kind"] != "pending"

        await eventually(finished, timeout=30)
        state = (await job())["state"]
        assert state["kind"] == "failed"
        assert "Could not find public function for 'agentOps:generateMessage'" in state["error"]
        assert town.worker.alive

        async def waiting_on(operation_id):
            world = await town.world()
            mine = next(a for a in world["agents"] if a["playerId"] == agent)
            return (mine.get("inProgressOperation") or {}).get("operationId") == operation_id

        assert await waiting_on(operation.operation_id)  # nothing answered it
        town.clock[0] += AGENT_OPERATION_TIMEOUT_MS
        await town.step(2)
        assert not await waiting_on(operation.operation_id)  # dropped as overdue
        again = [o for o in asked if o.name == "generateMessage"]
        assert len(again) > 1 and again[-1].operation_id != operation.operation_id
        assert (await job())["state"] == state  # run once, not retried
    finally:
        await town.close()
