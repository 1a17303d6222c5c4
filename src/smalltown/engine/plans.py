"""Residents' daily plans, as rules: when to ask for a plan, and how a plan moves them.

A plan is data in the world (:class:`~smalltown.engine.state.Plan`, one per agent): a few
items, each a minute of the day, a named place (its tile) and an activity, set by the
``agentFinishPlan`` input when a ``makePlan`` operation answers. The engine never waits
for one: an agent asks at wake-up (the first step of a new game day, by UTC), when the
current item starts (to break it into short steps), and after accepting a visitor's
invitation (to re-plan the rest of the day; a chat among residents changes nothing: the
plan goes on after it); without a plan it keeps busy and wanders as before. A failed
or lost answer is asked again only after ``PLAN_RETRY_MS``, so planning costs a few
operations a game day, not one a step.

News changes plans too, through the same input from a remembering operation: an *event*
heard of (a party at the fountain at five, read from the memory without a model) joins
today's plan at its time for ``EVENT_MINUTES``, then what was under way resumes; it is
kept through any later plan of the day. News that tells of a time but could not be read
as an event asks for a re-plan, with the news as the reason (``MAX_REPLANS`` a day).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from smalltown.engine.constants import ACTIVITY_MS
from smalltown.engine.context import StepContext
from smalltown.engine.geometry import Point
from smalltown.engine.movement import walk_to
from smalltown.engine.pathfinding import regions, regions_from
from smalltown.engine.state import Activity, Agent, Plan, PlanItem, Player

DAY_MS = 86_400_000
MINUTE_MS = 60_000
PLAN_RETRY_MS = 10 * MINUTE_MS  # after an unanswered or failed request, wait this long
PLACE_RADIUS = 2  # a resident stands on a free tile this near the place's own
MAX_ITEMS = 10
MAX_STEPS = 5
MAX_TEXT = 80
MAX_REPLANS = 2  # a day's re-plans at most (an invitation past these changes nothing)
MAX_EVENTS = 3  # events heard of a day that a plan takes (news past these changes nothing)
EVENT_MINUTES = 60  # an event heard of takes this long in the plan
MAX_REASON = 200  # characters of news kept as the reason for a re-plan
#: tiles round a place, nearest first (ties in a fixed order)
_SPOTS = sorted(
    ((dx, dy) for dx in range(-PLACE_RADIUS, PLACE_RADIUS + 1) for dy in range(-2, 3)),
    key=lambda d: (d[0] * d[0] + d[1] * d[1], d[1], d[0]),
)


def day_of(now: float) -> int:
    return int(now // DAY_MS)


def minute_of(now: float) -> int:
    return int((now % DAY_MS) // MINUTE_MS)


def current(plan: Plan | None, now: float) -> tuple[int, PlanItem] | None:
    """Today's item under way at ``now`` (the last one started), with its index."""
    if plan is None or plan.day != day_of(now):
        return None
    minute, found = minute_of(now), None
    for index, item in enumerate(plan.items):
        if item.start <= minute:
            found = (index, item)
    return found


def replan(ctx: StepContext, agent: Agent, reason: str) -> None:
    """Something important happened: plan the rest of the day again when next free."""
    plan = ctx.world.plans.get(agent.id)
    if plan is not None and plan.day == day_of(ctx.now) and plan.replans < MAX_REPLANS:
        plan.replan = reason
        plan.asked = None


def plan_wanted(ctx: StepContext, agent: Agent) -> dict[str, Any] | None:
    """The arguments of a ``makePlan`` operation the agent should start now, if any:
    ``kind`` "day" (a plan for the rest of today) or "steps" (break the current item)."""
    now, today = ctx.now, day_of(ctx.now)
    plan = ctx.world.plans.get(agent.id)
    if plan is None:
        plan = ctx.world.plans[agent.id] = Plan(agent.id)
    if plan.asked is not None and now - plan.asked < PLAN_RETRY_MS:
        return None  # asked lately (an answer may be on its way, or it failed)
    if plan.day != today or plan.replan is not None:
        plan.asked = now
        reason = "wake" if plan.day != today else plan.replan
        return {"kind": "day", "day": float(today), "reason": reason}
    found = current(plan, now)
    if found is not None and found[1].steps is None:
        index, item = found
        item.steps = []  # asked: an answer that never comes leaves the item as it is
        return {"kind": "steps", "day": float(today), "index": float(index)}
    return None


def follow(ctx: StepContext, agent: Agent, player: Player) -> bool:
    """Walk to the current item's place, or be busy there with it; False when today's
    plan has nothing under way (or its place cannot be reached from here)."""
    plan = ctx.world.plans.get(agent.id)
    found = current(plan, ctx.now)
    if plan is None or found is None:
        return False
    index, item = found
    here = player.position.tile()
    if max(abs(here[0] - item.x), abs(here[1] - item.y)) <= PLACE_RADIUS:
        ends = plan.items[index + 1].start if index + 1 < len(plan.items) else 24 * 60
        player.activity = Activity(
            step_text(item, minute_of(ctx.now), ends), item.emoji, ctx.now + ACTIVITY_MS
        )
        return True
    spot = _spot(ctx, player, item)
    if spot is None:
        return False
    walk_to(player, spot, ctx.now)
    return True


def step_text(item: PlanItem, minute: int, ends: int) -> str:
    """What the resident is doing ``minute`` into the day: the sub-step due by then (the
    item's span shared evenly among them), else the item's activity."""
    if not item.steps:
        return item.activity
    span = max(1, ends - item.start)
    k = (minute - item.start) * len(item.steps) // span
    return item.steps[max(0, min(len(item.steps) - 1, k))]


def _spot(ctx: StepContext, player: Player, item: PlanItem) -> Point | None:
    """A free tile at the place, reachable from here and nobody else's spot."""
    world_map, width = ctx.world_map, ctx.world_map.width
    labels = regions(world_map)
    mine = regions_from(world_map, player.position.tile())
    taken = set()
    for other in ctx.world.players.values():
        if other.id != player.id:
            taken.add(other.position.tile())
            if other.pathfinding is not None:
                taken.add(other.pathfinding.destination.tile())
    for dx, dy in _SPOTS:
        x, y = item.x + dx, item.y + dy
        if world_map.blocked(x, y) or (x, y) in taken or labels[y * width + x] not in mine:
            continue
        return Point(float(x), float(y))
    return None


def set_plan(ctx: StepContext, agent: Agent, args: dict[str, Any]) -> None:
    """A ``makePlan`` answer: today's plan (kind "day") or the current item's steps; or,
    from remembering, an event heard of (kind "event") or news to re-plan for ("news").
    Anything malformed is left out, so an answer never breaks the world."""
    plan = ctx.world.plans.get(agent.id)
    if plan is None:
        plan = ctx.world.plans[agent.id] = Plan(agent.id)
    if plan.pending == args.get("operationId"):
        plan.pending = None
    if args.get("kind") == "event":
        add_event(ctx, plan, args.get("item"))
        return
    if args.get("kind") == "news":
        heard = args.get("heard")
        if isinstance(heard, str) and heard.strip():
            replan(ctx, agent, "news:" + heard.strip()[:MAX_REASON])
        return
    day = args.get("day")
    if not isinstance(day, (int, float)) or int(day) != day_of(ctx.now):
        return  # an answer for another day (it came too late): ask afresh
    if args.get("kind") == "steps":
        index = args.get("index")
        steps = args.get("steps")
        if (
            plan.day == int(day)
            and isinstance(index, (int, float))
            and isinstance(steps, list)
            and 0 <= int(index) < len(plan.items)
        ):
            plan.items[int(index)].steps = [
                s[:MAX_TEXT] for s in steps[:MAX_STEPS] if isinstance(s, str) and s
            ]
        return
    items = []
    for raw in args.get("items", [])[:MAX_ITEMS] if isinstance(args.get("items"), list) else []:
        item = _item(ctx, raw)
        if item is not None:
            items.append(item)
    items.sort(key=lambda i: i.start)
    if not items:
        return
    if plan.events_day == int(day):
        items = with_events(items, plan.events)
    if plan.day == int(day):
        plan.replans += 1
        kept = {(i.start, i.place, i.activity): i.steps for i in plan.items}
        for item in items:  # an item planned again keeps its steps
            item.steps = kept.get((item.start, item.place, item.activity))
    plan.day, plan.items, plan.made = int(day), items, ctx.now
    plan.replan = None
    plan.asked = None


def add_event(ctx: StepContext, plan: Plan, raw: Any) -> None:
    """An event heard of joins today's plan (now, if there is one; else the plan made at
    wake-up takes it), unless it is known already or the day has had ``MAX_EVENTS``."""
    item = _item(ctx, raw)
    today = day_of(ctx.now)
    if item is None:
        return
    if plan.events_day != today:
        plan.events, plan.events_day = [], today
    known = any((e.start, e.place) == (item.start, item.place) for e in plan.events)
    if known or len(plan.events) >= MAX_EVENTS:
        return
    plan.events.append(item)
    plan.events.sort(key=lambda e: e.start)
    if plan.day == today:
        plan.items = with_events(plan.items, plan.events)


def with_events(items: list[PlanItem], events: list[PlanItem]) -> list[PlanItem]:
    """``items`` with each event at its time: what would start during one waits for its
    end, when what was under way (or the last of those) takes up again. An event already
    in ``items`` keeps its steps."""
    steps = {(i.start, i.place, i.activity): i.steps for i in items}
    heard = {(e.start, e.place, e.activity) for e in events}
    out = [i for i in items if (i.start, i.place, i.activity) not in heard]
    for event in events:
        end = event.start + EVENT_MINUTES
        before = [i for i in out if i.start < end and (i.start, i.place, i.activity) not in heard]
        out = [i for i in out if not event.start <= i.start < end]
        if before and end < 24 * 60 and not any(i.start == end for i in out):
            was = before[-1]
            out.append(PlanItem(end, was.place, was.x, was.y, was.activity, was.emoji))
        out.append(replace(event, steps=steps.get((event.start, event.place, event.activity))))
    out.sort(key=lambda i: i.start)
    return out


def plan_failed(ctx: StepContext, agent: Agent, operation_id: Any) -> bool:
    """Whether ``operation_id`` was the agent's planning; it is then no longer pending
    (and asked again after ``PLAN_RETRY_MS``)."""
    plan = ctx.world.plans.get(agent.id)
    if plan is None or plan.pending is None or plan.pending != operation_id:
        return False
    plan.pending = None
    return True


def _item(ctx: StepContext, raw: Any) -> PlanItem | None:
    if not isinstance(raw, dict):
        return None
    start: Any = raw.get("start")
    x: Any = raw.get("x")
    y: Any = raw.get("y")
    place, activity, emoji = raw.get("place"), raw.get("activity"), raw.get("emoji")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, x, y)):
        return None
    if not (isinstance(place, str) and place and isinstance(activity, str) and activity):
        return None
    if not 0 <= int(start) < 24 * 60 or not ctx.world_map.inside(int(x), int(y)):
        return None
    return PlanItem(
        int(start),
        place[:MAX_TEXT],
        int(x),
        int(y),
        activity[:MAX_TEXT],
        emoji[:8] if isinstance(emoji, str) and emoji else None,
    )
