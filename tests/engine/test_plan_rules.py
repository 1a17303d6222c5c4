"""Plans as engine rules: asked for at wake-up, broken down as items start, asked again
after a visitor's accepted invitation (a few times a day at most) but not after a chat
among residents, followed, kept across a day's end, and never leaving a resident stuck on
a bad answer."""

from collections import Counter

from test_engine import Sim, open_map

from smalltown.engine.engine import Input, step
from smalltown.engine.plans import DAY_MS, MAX_REPLANS, day_of
from smalltown.engine.state import World

CORNERS = ((2, 2), (17, 2), (2, 9), (17, 9), (10, 6))


def day_plan(minute: int) -> list[dict]:
    """Five items from ``minute``, an hour apart, round the corners."""
    return [
        {
            "start": float(minute + 60 * k),
            "place": f"corner {k}",
            "x": float(CORNERS[k][0]),
            "y": float(CORNERS[k][1]),
            "activity": f"doing thing {k}",
        }
        for k in range(5)
        if minute + 60 * k < 24 * 60
    ]


class Planner:
    """Answers every operation the way the agents' side would, and counts the plans."""

    def __init__(self):
        self.asked = Counter()  # (agent, day, kind) -> operations

    def answer(self, ops, now, number):
        out = []
        for op in ops:
            number += 1
            a = {"agentId": op.args["agentId"], "operationId": op.operation_id}
            if op.name == "makePlan":
                kind = op.args["kind"]
                self.asked[(op.args["agentId"], int(op.args["day"]), kind)] += 1
                if kind == "day":
                    minute = int((now % DAY_MS) // 60_000)
                    a |= {"kind": "day", "day": op.args["day"], "items": day_plan(minute)}
                else:
                    a |= {**op.args, "steps": ["first", "then", "last"]}
                    a["operationId"] = op.operation_id
                out.append(Input(number, "agentFinishPlan", a))
            elif op.name == "generateMessage":
                a |= {
                    "conversationId": op.args["conversationId"],
                    "messageUuid": op.args["messageUuid"],
                    "leave": op.args["kind"] != "start",
                }
                out.append(Input(number, "agentFinishMessage", a))
            elif op.name == "rememberConversation":
                out.append(Input(number, "agentFinishRememberConversation", a))
        return out, number


def test_plans_cost_a_few_operations_a_day_and_are_followed():
    world, world_map, planner = World(), open_map(), Planner()
    now = 20 * 3_600_000.0 + 7 * DAY_MS  # 20:00 of day 7
    number, pending = 0, []
    for _ in range(4):
        number += 1
        pending.append(Input(number, "createAgent", {}))
    steps = 0
    at_place = Counter()
    while now < 8 * DAY_MS + 2 * 3_600_000:  # to 02:00 the next day
        out = step(world, world_map, pending, now, seed=3, step_number=steps, duration=30_000)
        now, steps = out.end_time, steps + 1
        pending, number = planner.answer(out.operations, now, number)
        for agent in world.agents.values():
            plan = world.plans.get(agent.id)
            player = world.players[agent.player_id]
            if plan and plan.day == day_of(now) and player.activity is not None:
                here = player.position.tile()
                if any(abs(here[0] - i.x) <= 2 and abs(here[1] - i.y) <= 2 for i in plan.items):
                    at_place[agent.id] += 1
    assert len(world.agents) == 4
    for agent in world.agents:
        for day in (7, 8):
            asked = {k: planner.asked[(agent, day, k)] for k in ("day", "steps")}
            # One plan at wake-up, re-plans capped, a breakdown per item begun: a few
            # operations a game day, never one a step (the evening had 480 steps).
            assert 1 <= asked["day"] <= 1 + MAX_REPLANS, (agent, day, asked)
            assert asked["day"] + asked["steps"] <= 10, (agent, day, asked)
        assert at_place[agent] > 20  # busy at a planned place much of the time
    # Neighbours' invitations were accepted and talked through, and the plans went on:
    # a chat among residents is no reason to plan again (a visitor's invitation is).
    assert any(agent.last_conversation for agent in world.agents.values())
    assert not any(plan.replans for plan in world.plans.values())


def test_bad_answers_change_nothing_and_leave_no_one_stuck():
    sim = Sim()
    ids = sim.agent(5, 5)
    sim.run()
    (op,) = [o for o in sim.operations if o.name == "makePlan"]
    assert op.args["kind"] == "day"
    sim.to_fail = []
    bad = [
        {"start": 600.0, "place": "x", "x": 99.0, "y": 1.0, "activity": "off the map"},
        {"start": "soon", "place": "x", "x": 1.0, "y": 1.0, "activity": "no time"},
        {"start": 600.0, "place": "", "x": 1.0, "y": 1.0, "activity": "no place"},
        "not an item",
    ]
    args = {"agentId": ids["agentId"], "operationId": op.operation_id}
    (result,) = sim.run(
        ("agentFinishPlan", {**args, "kind": "day", "day": op.args["day"]} | {"items": bad})
    )
    assert result["kind"] == "ok"
    agent = sim.world.agents[ids["agentId"]]
    assert agent.operation is None  # freed
    assert sim.world.plans[ids["agentId"]].items == []
    # Without a plan it keeps busy as before, and asks again only later.
    sim.run(steps=30)
    assert [o.name for o in sim.operations].count("makePlan") == 1
    assert (
        sim.world.players[ids["playerId"]].activity
        or sim.world.players[ids["playerId"]].pathfinding
    )
