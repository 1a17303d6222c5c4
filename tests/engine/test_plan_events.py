"""Events heard of, as plan rules: one joins today's plan at its time and what was under
way resumes after it; it is kept through later plans of the day, taken by a plan made
after it was heard, capped, and followed at its time; a malformed one changes nothing,
and news that could not be read as an event asks for a re-plan."""

from test_engine import Sim

from smalltown.engine.plans import EVENT_MINUTES, MAX_EVENTS, day_of, minute_of, with_events
from smalltown.engine.state import PlanItem


def item(start, place, activity="doing things", x=3, y=3):
    return PlanItem(start, place, x, y, activity)


def shape(items):
    return [(i.start, i.place, i.activity) for i in items]


def test_an_event_takes_its_hour_and_what_was_under_way_resumes():
    party = item(17 * 60, "the fountain", "at the party", 10, 6)
    day = [item(600, "the bakery"), item(16 * 60, "the pond"), item(19 * 60, "the garden")]
    merged = with_events(day, [party])
    assert shape(merged) == [
        (600, "the bakery", "doing things"),
        (16 * 60, "the pond", "doing things"),
        (17 * 60, "the fountain", "at the party"),
        (17 * 60 + EVENT_MINUTES, "the pond", "doing things"),  # back to the pond
        (19 * 60, "the garden", "doing things"),
    ]
    assert shape(with_events(merged, [party])) == shape(merged)  # merging again: the same
    # What would have started during it starts when it ends instead.
    during = with_events([item(600, "the bakery"), item(17 * 60 + 30, "the pond")], [party])
    assert shape(during)[1:] == [
        (17 * 60, "the fountain", "at the party"),
        (18 * 60, "the pond", "doing things"),
    ]


def planned(sim, ids):
    return sim.world.plans[ids["agentId"]]


def answer_plan(sim, ids, items):
    """Answer the latest day plan asked for with ``items``."""
    op = [o for o in sim.operations if o.name == "makePlan" and o.args["kind"] == "day"][-1]
    args = {"agentId": ids["agentId"], "operationId": op.operation_id, "kind": "day"}
    sim.ok("agentFinishPlan", {**args, "day": float(day_of(sim.now)), "items": items})


def event_args(ids, start, place="the fountain", x=10, y=6, activity="at the party"):
    return {
        "agentId": ids["agentId"],
        "operationId": "heard",
        "kind": "event",
        "item": {"start": float(start), "place": place, "x": x, "y": y, "activity": activity},
    }


def day_items(minute):
    return [
        {"start": float(minute), "place": "the corner", "x": 2.0, "y": 2.0, "activity": "reading"},
        {"start": float(minute + 120), "place": "the pond", "x": 17.0, "y": 9.0, "activity": "x"},
    ]


def test_an_event_heard_before_the_plan_is_taken_by_it_and_kept_by_later_ones():
    sim = Sim()
    ids = sim.agent(5, 5)
    sim.run()
    now = minute_of(sim.now)
    sim.ok("agentFinishPlan", event_args(ids, now + 30))  # before any plan today
    answer_plan(sim, ids, day_items(now))
    assert (now + 30, "the fountain", "at the party") in shape(planned(sim, ids).items)
    # A plan made again that day (after a visitor's invitation, say) keeps it.
    answer_plan(sim, ids, day_items(now + 1))
    plan = planned(sim, ids)
    assert shape(plan.items).count((now + 30, "the fountain", "at the party")) == 1
    assert plan.replans == 1


def test_events_are_capped_and_bad_ones_change_nothing():
    sim = Sim()
    ids = sim.agent(5, 5)
    sim.run()
    now = minute_of(sim.now)
    answer_plan(sim, ids, day_items(now))
    before = shape(planned(sim, ids).items)
    for bad in (
        {**event_args(ids, now + 30), "item": "a party"},
        {**event_args(ids, now + 30, x=99)},  # off the map
        {**event_args(ids, 24 * 60)},  # no such minute
        {**event_args(ids, now + 30, place="")},
    ):
        assert sim.ok("agentFinishPlan", bad) is None
    assert shape(planned(sim, ids).items) == before
    for k in range(MAX_EVENTS + 2):
        sim.ok("agentFinishPlan", event_args(ids, now + 100 + 70 * k, activity=f"at event {k}"))
    heard = [i for i in planned(sim, ids).items if i.activity.startswith("at event")]
    assert len(heard) == MAX_EVENTS


def test_a_resident_goes_to_the_event_at_its_time():
    sim = Sim()
    ids = sim.agent(2, 2)
    sim.run()
    now = minute_of(sim.now)
    answer_plan(sim, ids, day_items(now))
    sim.ok("agentFinishPlan", event_args(ids, now + 2, x=15, y=8))
    sim.run(steps=60)  # a minute: still at its first item
    player = sim.world.players[ids["playerId"]]
    assert abs(player.position.x - 15) > 3
    sim.run(steps=150)  # past the event's start, and time to walk there
    player = sim.world.players[ids["playerId"]]
    assert abs(player.position.x - 15) <= 2 and abs(player.position.y - 8) <= 2


def test_news_that_is_no_event_asks_for_a_plan_again():
    sim = Sim()
    ids = sim.agent(5, 5)
    sim.run()
    now = minute_of(sim.now)
    answer_plan(sim, ids, day_items(now))
    news = {"agentId": ids["agentId"], "operationId": "heard", "kind": "news"}
    sim.ok("agentFinishPlan", {**news, "heard": "Kofi said to come by at five."})
    assert planned(sim, ids).replan == "news:Kofi said to come by at five."
    sim.run()
    asked = [o for o in sim.operations if o.name == "makePlan" and o.args["kind"] == "day"]
    assert asked[-1].args["reason"] == "news:Kofi said to come by at five."
