"""Three or more in one conversation, through the whole town: scheduled actions call the
(scripted) LLM on loopback, the lines land in the messages table with whose turn they
suggest, members leave while the rest go on, and everyone remembers it with everyone."""

import math

import pytest
from test_agents_talk import Town

from fake_llm import FakeLLM

from helpers import RunningServer, eventually


async def conversation_of(town, player):
    world = await town.world()
    return next(
        (
            c
            for c in world["conversations"]
            if any(p["playerId"] == player for p in c["participants"])
        ),
        None,
    )


async def names(town):
    rows = await town.store.read(lambda tx: tx.query("playerDescriptions"))
    return {r["playerId"]: r["name"] for r in rows}


async def group_of_three(town):
    """Two residents meet; the third walks up to them and joins. Returns (players, id)."""
    await town.step()  # the residents arrive
    world = await town.world()
    a, b, c = (agent["playerId"] for agent in world["agents"])

    async def joined():
        """The third walks up to the two (again, if the two parted before it got there,
        or it wandered off) and joins them once someone has spoken."""
        await town.step()
        talk = await conversation_of(town, a)
        if talk is None:
            if await conversation_of(town, b) is None:
                await town.send("startConversation", {"playerId": a, "invitee": b})
            return False
        if len(talk["participants"]) == 3:
            return True
        players = {p["id"]: p for p in (await town.world())["players"]}
        if "pathfinding" not in players[c] and await conversation_of(town, c) is None:
            there = players[a]["position"]
            await town.send(
                "moveTo",
                {"playerId": c, "destination": {"x": there["x"], "y": min(there["y"] + 1, 7)}},
            )
        return False

    await eventually(joined, "the third to join the two", timeout=90)
    return (a, b, c), (await conversation_of(town, a))["id"]


@pytest.mark.timeout(180)
async def test_three_talk_in_turn_one_leaves_and_all_remember_everyone(tmp_path):
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        town = await Town().open(tmp_path, llm_server.url, residents=3)
        try:
            (a, b, c), conversation = await group_of_three(town)
            called = await names(town)

            async def lines(count):
                async def enough():
                    await town.step()
                    said = [m for m in await town.messages() if m["conversationId"] == conversation]
                    return len(said) >= count

                await eventually(enough, f"{count} lines", timeout=90)

            # The next line names the newcomer: the newcomer speaks after it.
            said = [m for m in await town.messages() if m["conversationId"] == conversation]
            before = len(said)
            fake.replies.append(f"{called[c].split()[0]}, come and join us! How was your day?")
            fake.default_reply = "The market was busy."
            await lines(before + 2)
            said = [m for m in await town.messages() if m["conversationId"] == conversation]
            assert said[before]["author"] in (a, b) and said[before + 1]["author"] == c
            inputs = await town.store.read(lambda tx: tx.query("inputs"))
            uuid = said[before]["messageUuid"]
            first = next(i for i in inputs if i["args"].get("messageUuid") == uuid)
            assert first["args"]["addressed"] == [c]
            assert {p for p, _ in first["args"]["relevance"]} == {a, b, c} - {
                said[before]["author"]
            }
            # A group line's prompt knows everyone in it.
            prompt = fake.chats()[-1]["messages"][0]["content"]
            assert called[a] in prompt and called[b] in prompt
            await lines(before + 4)
            said = [m for m in await town.messages() if m["conversationId"] == conversation]
            assert {m["author"] for m in said[before:]} == {a, b, c}  # all three had a turn

            # One leaves: the other two go on.
            await town.send("leaveConversation", {"playerId": b, "conversationId": conversation})
            await town.step()
            group = await conversation_of(town, a)
            assert {p["playerId"] for p in group["participants"]} == {a, c}
            count = len(said)
            await lines(count + 1)
            said = [m for m in await town.messages() if m["conversationId"] == conversation]
            assert {m["author"] for m in said[count:]} <= {a, c}
            await town.send("leaveConversation", {"playerId": a, "conversationId": conversation})

            async def all_remembered():
                await town.step()
                memories = await town.store.read(lambda tx: tx.query("memories"))
                return {
                    m["playerId"]
                    for m in memories
                    if m["data"].get("conversationId") == conversation
                }

            await eventually(
                lambda: _equals(all_remembered, {a, b, c}), "all three to remember", timeout=90
            )
            memories = await town.store.read(lambda tx: tx.query("memories"))
            for memory in memories:
                if memory["data"].get("conversationId") == conversation:
                    assert set(memory["data"]["playerIds"]) == {a, b, c}, memory
            summaries = [
                body["messages"][1]["content"]
                for body in fake.chats()
                if "You just talked with" in body["messages"][1]["content"]
            ]
            assert any(called[b] in s and called[c] in s for s in summaries)
            world = await town.world()
            assert not world["conversations"]
            # Everyone talked with everyone: an edge each way for each pair, and one row
            # for the talk in each one's past, naming the other two.
            edges = await town.store.read(lambda tx: tx.query("participatedTogether"))
            pairs = {
                (e["player1"], e["player2"]) for e in edges if e["conversationId"] == conversation
            }
            assert pairs == {(p, q) for p in (a, b, c) for q in (a, b, c) if p != q}
            details = await town.runtime.query(
                "world:playerDetails", {"worldId": town.world_id, "playerId": c}
            )
            past = next(p for p in details.value["pastConversations"] if p["id"] == conversation)
            assert past["with"] == " and ".join(sorted([called[a], called[b]]))
        finally:
            await town.close()


async def _equals(probe, want):
    return await probe() == want


@pytest.mark.timeout(180)
async def test_an_llm_failing_mid_turn_ends_the_group_cleanly(tmp_path):
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        town = await Town().open(tmp_path, llm_server.url, residents=3)
        try:
            (a, b, c), conversation = await group_of_three(town)
            fake.fail(500, times=50)

            async def ended():
                await town.step()
                return (await town.world())["conversations"] == []

            await eventually(ended, "the group to end", timeout=90)
            archived = await town.store.read(lambda tx: tx.query("archivedConversations"))
            assert set(next(x for x in archived if x["id"] == conversation)["participants"]) == {
                a,
                b,
                c,
            }
            health = await town.store.read(lambda tx: tx.query("smalltownWorldHealth"))
            assert health and "500" in health[0]["llmError"]
        finally:
            await town.close()


@pytest.mark.timeout(180)
async def test_a_person_joins_a_group_and_the_one_they_name_answers(tmp_path):
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        town = await Town().open(tmp_path, llm_server.url, residents=2)
        try:
            await town.step()
            world = await town.world()
            a, b = (agent["playerId"] for agent in world["agents"])
            await town.send("join", {"tokenIdentifier": "ada", "name": "Ada"})
            await town.step()
            human = next(p["id"] for p in (await town.world())["players"] if p.get("human"))
            refusals = []

            async def in_a_group():
                """Ada walks up to the two talking and asks to join (again, if the two
                parted before she got there, or she stopped short)."""
                await town.step()
                world = await town.world()
                if await conversation_of(town, human) is not None:
                    return True
                talk = await conversation_of(town, a)
                if talk is None:
                    if await conversation_of(town, b) is None:
                        await town.send("startConversation", {"playerId": a, "invitee": b})
                    return False
                if any(p["status"]["kind"] != "participating" for p in talk["participants"]):
                    return False
                players = {p["id"]: p for p in world["players"]}
                me, there = players[human], players[b]["position"]
                if "pathfinding" in me:
                    return False
                if (
                    math.dist((me["position"]["x"], me["position"]["y"]), tuple(there.values()))
                    > 2.5
                ):
                    await town.send(
                        "moveTo",
                        {
                            "playerId": human,
                            "destination": {"x": there["x"], "y": min(there["y"] + 1, 7)},
                        },
                    )
                    return False
                input_id = await town.send(
                    "joinConversation", {"playerId": human, "conversationId": talk["id"]}
                )
                await town.step()
                joined = await town.store.read(lambda tx: tx.get(input_id, table="inputs"))
                refusals.append(joined["returnValue"])
                return joined["returnValue"]["kind"] == "ok"

            await eventually(in_a_group, "Ada to join the two", timeout=90)
            assert refusals[-1] == {"kind": "ok", "value": None}
            conversation = (await conversation_of(town, human))["id"]
            group = await conversation_of(town, human)
            assert {p["playerId"] for p in group["participants"]} == {a, b, human}

            called = await names(town)
            fake.default_reply = "Welcome, Ada."
            count = len(await town.messages())
            await town.say(human, conversation, "h-1", f"Hello! {called[b]}, what is new?")

            async def answered():
                await town.step()
                return len(await town.messages()) > count + 1

            await eventually(answered, "an answer", timeout=60)
            after = [m for m in await town.messages() if m["conversationId"] == conversation]
            mine = next(i for i, m in enumerate(after) if m["messageUuid"] == "h-1")
            assert after[mine + 1]["author"] == b  # the one Ada named
        finally:
            await town.close()
