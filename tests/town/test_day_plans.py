"""Residents' day plans through the (scripted) LLM: a plan asked at wake-up is parsed and
followed (the resident walks to the planned place at the planned game time, busy with the
item's steps there), the details panel shows it, a malformed answer gets a default plan,
a visitor's accepted invitation makes the resident plan again, and news of a party at a
time and a place puts it in the plan (news it cannot place is planned on by the LLM);
planning calls stay few."""

import logging

import pytest
from test_agents_talk import Town, meet, small_map

from fake_llm import FakeLLM
from smalltown.engine.pathfinding import regions
from smalltown.engine.plans import DAY_MS
from smalltown.town.defaults import town_map
from smalltown.town.places import PLACES, places_for
from smalltown.worlds.parts import read_plans

from helpers import RunningServer

TEN = 10 * 3_600_000  # 10:00 of a game day, in ms


def kind_of(body) -> str:
    if "messages" not in body:
        return "embedding"
    asked = body["messages"][-1]["content"]
    if "Plan the rest of your day" in asked:
        return "plan"
    if "Break this into" in asked:
        return "steps"
    return "other"


def planning_calls(fake) -> list[dict]:
    return [b for b in fake.chats() if kind_of(b) != "other"]


class Script:
    """The fake LLM's rule: a plan (given text), steps, a summary of a talk (given text),
    and lines for the rest."""

    def __init__(self, plan: str, summary: str | None = None):
        self.plan = plan
        self.summary = summary

    def __call__(self, path, body):
        if "messages" not in body:
            return None
        kind = kind_of(body)
        if kind == "plan":
            return self.plan
        if kind == "steps":
            return "1. Unpack the sketchbook\n2. Draw the corner\n3. Tidy up."
        if "You just talked with" in body["messages"][-1]["content"]:
            return self.summary
        return None


async def open_town(tmp_path, fake, server, start=TEN, residents=1):
    town = await Town().open(tmp_path, server.url, residents=residents)
    # A fixed time of day, tomorrow: the runner skips to it at the first step.
    town.clock[0] = (town.clock[0] // DAY_MS + 1) * DAY_MS + start
    return town


async def all_plans(town):
    """Each resident's plan with items, by agent id."""
    plans = await town.store.read(lambda tx: read_plans(tx, town.world_id))
    return {p["agentId"]: p for p in plans if p["items"]}


async def own_plan(town):
    """The first resident's plan, if it has one."""
    world = await town.world()
    return (await all_plans(town)).get(world["agents"][0]["id"])


async def step_until(town, predicate, what, steps=60):
    for _ in range(steps):
        await town.step()
        if await predicate():
            return
    raise AssertionError(f"{what} not within {steps} steps")


async def until_planned(town):
    """Step until the resident has planned its day."""

    async def planned():
        return await own_plan(town) is not None

    await step_until(town, planned, "a plan")


def near(player, place, radius=2):
    return (
        abs(player["position"]["x"] - place["x"]) <= radius
        and abs(player["position"]["y"] - place["y"]) <= radius
    )


@pytest.mark.timeout(180)
async def test_a_plan_is_parsed_and_followed_and_shown(tmp_path):
    places = {p["name"]: p for p in places_for(small_map())}
    script = Script(
        "Here is my day:\n"
        "1. 10:00 | the north-west corner | sketching the view | ✏️\n"
        "2. 10:03 | South-East corner | reading a book | 📖\n"
    )
    fake = FakeLLM(rule=script)
    async with RunningServer(fake.app) as server:
        town = await open_town(tmp_path, fake, server)
        try:
            await until_planned(town)
            plan = await own_plan(town)
            assert [(i["start"], i["place"], i["activity"]) for i in plan["items"]] == [
                (600, "the north-west corner", "sketching the view"),
                (603, "the south-east corner", "reading a book"),
            ]
            (asked,) = [b for b in fake.chats() if kind_of(b) == "plan"]
            prompt = asked["messages"][-1]["content"]
            assert "It is 10:00" in prompt and "the middle of town" in prompt
            assert "Marisol" in asked["messages"][0]["content"]

            async def at(place, doing):
                world = await town.world()
                player = world["players"][0]
                activity = (player.get("activity") or {}).get("description")
                return near(player, places[place]) and activity in doing

            steps = ("Unpack the sketchbook", "Draw the corner", "Tidy up")
            # It finishes what it was doing before the plan came (a minute), then goes.
            await step_until(town, lambda: at("the north-west corner", steps), "sketching", 90)
            details = await town.runtime.query(
                "world:playerDetails",
                {"worldId": town.world_id, "playerId": (await town.world())["players"][0]["id"]},
            )
            shown = details.value["plan"]
            assert shown["current"] == 0
            assert [(i["time"], i["place"]) for i in shown["items"]] == [
                ("10:00", "the north-west corner"),
                ("10:03", "the south-east corner"),
            ]
            assert shown["items"][0]["steps"] == list(steps)

            # At 10:03 of game time it sets off for the next place.
            town.clock[0] += 3 * 60_000 - (town.clock[0] % 60_000)
            await step_until(
                town, lambda: at("the south-east corner", steps), "at the second place", 40
            )
            # One plan, and one breakdown per item begun: that is all the planning.
            assert len(planning_calls(fake)) == 3
        finally:
            await town.close()


@pytest.mark.timeout(120)
async def test_a_malformed_plan_is_replaced_by_a_default_one(tmp_path, caplog):
    fake = FakeLLM(rule=Script("I'll see how the day goes, no plans really!"))
    async with RunningServer(fake.app) as server:
        town = await open_town(tmp_path, fake, server, start=TEN + 17 * 60_000, residents=2)
        try:
            with caplog.at_level(logging.DEBUG, logger="smalltown.agents"):

                async def planned():
                    return len(await all_plans(town)) == 2

                await step_until(town, planned, "two plans")
            names = {p["name"] for p in places_for(small_map())}
            for plan in (await all_plans(town)).values():
                assert len(plan["items"]) >= 2
                assert all(i["place"] in names for i in plan["items"])
                assert plan["items"][0]["start"] == 617  # under way from now
            # Said once for the world's LLM, not once a resident.
            said = [r for r in caplog.records if "default plan" in r.getMessage()]
            assert [r.levelno for r in said] == [logging.WARNING, logging.DEBUG]
            plan = await own_plan(town)

            async def walking():  # never stuck: it sets off to its first place (once done
                # with what it was doing when the plan came)
                world = await town.world()
                player = next(
                    p for p in world["players"] if p["id"] == world["agents"][0]["playerId"]
                )
                first = plan["items"][0]
                return player.get("pathfinding") is not None or near(player, first)

            await step_until(town, walking, "following the default plan", 90)
        finally:
            await town.close()


@pytest.mark.timeout(180)
async def test_an_accepted_invitation_makes_the_resident_plan_again(tmp_path):
    script = Script(
        "10:00 | the middle of town | sketching the view | ✏️\n"
        "14:00 | the north-east corner | reading a book | 📖\n"
    )
    fake = FakeLLM(rule=script)
    async with RunningServer(fake.app) as server:
        town = await open_town(tmp_path, fake, server)
        try:
            await until_planned(town)
            human, _, conversation = await meet(town)
            script.plan = (
                "10:00 | the middle of town | sketching the view | ✏️\n"
                "11:00 | the south-west corner | showing Ada the sketches | 🖼️\n"
            )
            await town.send(
                "leaveConversation", {"playerId": human, "conversationId": conversation}
            )

            async def replanned():
                plan = await own_plan(town)
                return plan["replans"] == 1

            await step_until(town, replanned, "a new plan", 60)
            plan = await own_plan(town)
            assert [i["activity"] for i in plan["items"]] == [
                "sketching the view",
                "showing Ada the sketches",
            ]
            # The item kept is not broken down again.
            assert plan["items"][0]["steps"] == [
                "Unpack the sketchbook",
                "Draw the corner",
                "Tidy up",
            ]
            again = [b for b in fake.chats() if kind_of(b) == "plan"][-1]
            asked = again["messages"][-1]["content"]
            assert "invitation to talk" in asked and "Your plan so far" in asked
            assert len([b for b in fake.chats() if kind_of(b) == "plan"]) == 2
        finally:
            await town.close()


MORNING = (
    "10:00 | the north-west corner | sketching the view | ✏️\n"
    "12:00 | the north-east corner | reading a book | 📖\n"
)


async def told_by_a_visitor(town, news):
    """Ada meets the resident, tells it ``news`` and leaves the town (so nobody else is
    about); the resident remembers the talk. Returns its plan once the memory is written."""
    human, _, conversation = await meet(town)
    await town.say(human, conversation, "ada-1", news)
    await town.step(3)
    await town.send("leave", {"playerId": human})

    async def remembered():
        return bool(await town.store.read(lambda tx: tx.query("memories")))

    await step_until(town, remembered, "a memory of the talk", 60)
    await town.step(2)  # the plan's change is the next step's input
    return await own_plan(town)


@pytest.mark.timeout(180)
async def test_a_resident_told_of_a_party_plans_it_and_walks_there_at_its_time(tmp_path):
    places = {p["name"]: p for p in places_for(small_map())}
    party, sketching = places["the south-east corner"], places["the north-west corner"]
    script = Script(
        MORNING,
        "Ada told me about a party in the south-east corner at half past ten. Importance: 8",
    )
    fake = FakeLLM(rule=script)
    async with RunningServer(fake.app) as server:
        town = await open_town(tmp_path, fake, server)
        try:
            await until_planned(town)
            plan = await told_by_a_visitor(
                town, "There is a party in the south-east corner at half past ten!"
            )
            items = [(i["start"], i["place"], i["activity"]) for i in plan["items"]]
            assert (630, "the south-east corner", "at the party") in items
            assert (690, "the north-west corner", "sketching the view") in items  # resumed
            # Read from the memory: no LLM call planned it.
            asked = [b["messages"][-1]["content"] for b in planning_calls(fake)]
            assert not any("you heard" in a for a in asked)

            async def at(place):
                world = await town.world()
                player = next(p for p in world["players"] if not p.get("human"))
                return near(player, place)

            # Until then it sketches in the north-west corner, as planned; at 10:30 it
            # goes to the party.
            await step_until(town, lambda: at(sketching), "back at its sketching", 90)
            town.clock[0] += 30 * 60_000 - (town.clock[0] % (30 * 60_000))  # 10:30
            await step_until(town, lambda: at(party), "at the party", 90)
            details = await town.runtime.query(
                "world:playerDetails",
                {
                    "worldId": town.world_id,
                    "playerId": (await town.world())["agents"][0]["playerId"],
                },
            )
            shown = details.value["plan"]
            assert shown["items"][shown["current"]]["activity"] == "at the party"
        finally:
            await town.close()


@pytest.mark.timeout(180)
async def test_news_of_no_known_place_is_planned_on_by_the_llm_and_bad_answers_leave_a_plan(
    tmp_path,
):
    script = Script(
        MORNING,
        "Ada told me about a party at the lighthouse at half past ten. Importance: 9",
    )
    fake = FakeLLM(rule=script)
    async with RunningServer(fake.app) as server:
        town = await open_town(tmp_path, fake, server)
        try:
            await until_planned(town)
            script.plan = "Oh, a party! I wouldn't miss it."  # no plan in it

            async def replanned_for_news():
                asked = [b["messages"][-1]["content"] for b in planning_calls(fake)]
                return any("you heard this: Ada told me about a party" in a for a in asked)

            await told_by_a_visitor(town, "There is a party at the lighthouse at half past ten!")
            await step_until(town, replanned_for_news, "a re-plan for the news", 30)
            await town.step(3)
            plan = await own_plan(town)
            names = {p["name"] for p in places_for(small_map())}
            # The unusable answer gave way to a default plan: still a plausible day.
            assert len(plan["items"]) >= 2 and all(i["place"] in names for i in plan["items"])
        finally:
            await town.close()


def test_the_default_towns_places_can_be_walked_to():
    world_map = town_map()
    labels = regions(world_map)
    main = labels[16 * world_map.width + 9]
    for name, x, y in PLACES:
        assert not world_map.blocked(x, y), name
        assert labels[y * world_map.width + x] == main, name
    assert [p["name"] for p in places_for(world_map)] == [name for name, _, _ in PLACES]
