"""A resident's day plan: asked of the LLM (or made by the offline brain) at wake-up, again
after a visitor's invitation it accepted or news it could not place, and the current item
broken into short steps when it starts; an event heard of joins it with no call at all.

The answer is read line by line (``HH:MM | place | activity | emoji``); a line naming a
place the town lacks gets a place of the town, and an answer with fewer than two usable
items is replaced by the offline brain's plan for the resident: either way a warning,
once for a world's LLM (later ones at debug level), and the engine always gets a plan it
can follow (``engine/plans.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from smalltown.agents.events import find_event, time_said
from smalltown.agents.prompts import persona
from smalltown.agents.town_access import MeteredLLM, Place, PlanContext, TownAccess
from smalltown.llm import NO_LLM, LLMBudgetExceeded, LLMError, LLMUnavailable
from smalltown.llm.offline_plans import plan_text

log = logging.getLogger("smalltown.agents")
PLAN_TOKENS = 200
STEPS_TOKENS = 80
MIN_ITEMS = 2
MAX_ITEMS = 8
MAX_STEPS = 5
MAX_TEXT = 60
_LINE = re.compile(
    r"^[\s*\-•#]*(?:\d+[.)]\s+)?[\s*]*(\d{1,2})\s*[:.hH]\s*(\d{2})\s*"
    r"(?:([aApP])\.?[mM]\.?)?[\s*]*(.*)$"
)
_NUMBERED = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


def clock(minute: float) -> str:
    return f"{int(minute) // 60:02d}:{int(minute) % 60:02d}"


def plan_messages(context: PlanContext, reason: str, minute: int) -> list[dict[str, str]]:
    """The prompt for the rest of today's plan: who the resident is (a sentence), what it
    wants, the town's places, and when re-planning its plan so far and what changed."""
    me = context["me"]
    places = "; ".join(p["name"] for p in context["places"])
    asked = [
        f"It is {clock(minute)}. The places you can go: {places}.",
        f"What you want: {me['plan']}",
    ]
    if reason != "wake" and context["plan"]:
        so_far = "; ".join(
            f"{clock(i['start'])} {i['place']}: {i['activity']}" for i in context["plan"]
        )
        asked.append(f"Your plan so far: {so_far}.")
        asked.append(f"Something changed: {context['reason'] or reason}. Plan again from now.")
    asked.append(
        "Plan the rest of your day in 3 to 6 items, in time order, one a line, each exactly: "
        "HH:MM | place (as written above) | what you do (a few words) | one emoji"
    )
    return [
        {"role": "system", "content": f"You are {me['name']}. {persona(me)}"},
        {"role": "user", "content": "\n".join(asked)},
    ]


def steps_messages(context: PlanContext, item: dict[str, Any], ends: int) -> list[dict[str, str]]:
    """The prompt breaking the current item into short steps: the item alone."""
    return [
        {"role": "system", "content": f"You are {context['me']['name']}."},
        {
            "role": "user",
            "content": f"{clock(item['start'])}-{clock(ends)} at {item['place']}: "
            f"{item['activity']}. Break this into 3 short steps, a few words each, one a line.",
        },
    ]


def _place(text: str, places: Sequence[Place]) -> Place | None:
    said = text.strip().strip("\"'*").lower()
    bare = said.removeprefix("the ")
    for place in places:
        if place["name"].lower() in (said, f"the {bare}"):
            return place
    for place in places:
        name = place["name"].lower().removeprefix("the ")
        if name and (name in bare or (bare and bare in name)):
            return place
    return None


def parse_plan(text: str, places: Sequence[Place], minute: int) -> tuple[list[dict[str, Any]], int]:
    """The usable items of an answer, in time order (the first moved to ``minute`` if it
    starts later, so something is under way), and how many named no place of the town
    (given one of the town's instead)."""
    items: dict[int, dict[str, Any]] = {}
    unknown = 0
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        hour, mins, rest = int(match[1]), int(match[2]), match[4]
        if match[3] and match[3].lower() == "p" and hour < 12:
            hour += 12
        if not (0 <= hour < 24 and 0 <= mins < 60):
            continue
        fields = [f.strip() for f in rest.strip(" |-–—:").split("|")]
        if len(fields) < 2 or not fields[1]:
            continue
        activity = fields[1][:MAX_TEXT]
        place = _place(fields[0], places)
        if place is None:
            unknown += 1
            place = places[sum(map(ord, activity)) % len(places)]
        emoji = fields[2][:8] if len(fields) > 2 and fields[2] else None
        start = hour * 60 + mins
        items[start] = {
            "start": float(start),
            "place": place["name"],
            "x": float(place["x"]),
            "y": float(place["y"]),
            "activity": activity,
            **({"emoji": emoji} if emoji else {}),
        }
    ordered = [items[k] for k in sorted(items)]
    later = [i for i in ordered if i["start"] > minute]
    under_way = [i for i in ordered if i["start"] <= minute][-1:]
    kept = (under_way + later)[:MAX_ITEMS]
    if kept and kept[0]["start"] > minute:
        kept[0]["start"] = float(minute)
    return kept, unknown


def parse_steps(text: str) -> list[str]:
    steps = []
    for line in text.splitlines():
        step = _NUMBERED.sub("", line).strip().rstrip(".")
        if step:
            steps.append(step[:MAX_TEXT])
    return steps[:MAX_STEPS]


async def plan_for_news(town: TownAccess, llm: MeteredLLM, heard: str) -> None:
    """News the resident cares about (``heard``, just written down) that names a time:
    an event read from it (a party at a place of the town and a time) joins today's plan,
    with no LLM call; news that cannot be read so asks for a re-plan with it as the
    reason, when an LLM can make one (the offline brain's plans cannot use it)."""
    if time_said(heard, 0) is None:
        return  # no time of day: nothing to plan around
    context = await town.plan_context("news")
    if context is None or not context["places"]:
        return
    event = find_event(heard, context["places"], int(context["minute"]))
    if event is not None:
        await town.finish_plan({"kind": "event", "item": event})
    elif llm.llm is not None and llm.llm.composer is None:
        await town.finish_plan({"kind": "news", "heard": heard})


async def make_plan(
    town: TownAccess, llm: MeteredLLM, kind: str, day: float, reason: str, index: float
) -> None:
    """Answer a ``makePlan`` operation: today's plan (``kind`` "day") or the steps of item
    ``index``; when the LLM cannot answer, free the agent and show the world why."""
    if llm.llm is None:
        await town.fail_operation(LLMUnavailable(NO_LLM))
        return
    context = await town.plan_context(reason)
    if context is None or not context["places"]:
        await town.finish_plan({"kind": kind, "day": day, "items": []})
        return
    seed = f"{town.agent_id}:{day}:{kind}:{index}"
    composer = llm.llm.composer
    try:
        if kind == "steps":
            items = context["plan"]
            if not 0 <= int(index) < len(items):
                await town.finish_plan({"kind": kind, "day": day, "index": index, "steps": []})
                return
            item = items[int(index)]
            ends = int(items[int(index) + 1]["start"]) if int(index) + 1 < len(items) else 1440
            if composer is not None:
                text = composer.plan_steps(item["activity"], seed)
            else:
                await llm.check_budget()
                prompt = steps_messages(context, item, ends)
                text = (await llm.chat(prompt, max_tokens=STEPS_TOKENS)).text
            steps = parse_steps(text) or [item["activity"]]
            await town.finish_plan({"kind": kind, "day": day, "index": index, "steps": steps})
            return
        minute = int(context["minute"])
        names = [p["name"] for p in context["places"]]
        if composer is not None:
            text = composer.plan(context["me"], names, minute, seed)
        else:
            await llm.check_budget()
            prompt = plan_messages(context, reason, minute)
            text = (await llm.chat(prompt, max_tokens=PLAN_TOKENS)).text
    except LLMBudgetExceeded as exc:
        await town.fail_operation(exc)
        return
    except LLMError as exc:
        log.warning("agent %s could not plan: %s", town.agent_id, exc)
        await town.fail_operation(exc)
        return
    items, unknown = parse_plan(text, context["places"], minute)
    if len(items) < MIN_ITEMS:
        once(
            f"unusable plan:{town.world_id}:{llm.llm.description}",
            "agent %s: the plan %s answered has %d usable items (%r); planned with the "
            "offline brain's default plan instead",
            town.agent_id,
            llm.llm.description,
            len(items),
            text[:120],
        )
        default = plan_text(context["me"], names, minute, seed)
        items, _ = parse_plan(default, context["places"], minute)
    elif unknown:
        once(
            f"unknown places:{town.world_id}:{llm.llm.description}",
            "agent %s: %d places %s planned are not in the town; gave them the town's",
            town.agent_id,
            unknown,
            llm.llm.description,
        )
    await town.finish_plan({"kind": kind, "day": day, "reason": reason, "items": items})


_WARNED: set[str] = set()


def once(key: str, message: str, *args: object) -> None:
    """A warning the first time ``key`` (a world's LLM and what went wrong) comes up,
    later ones at debug level: a model that cannot plan would otherwise say so for every
    resident, every day."""
    if key in _WARNED:
        log.debug(message, *args)
        return
    _WARNED.add(key)
    log.warning(message + " (logged once; later ones at debug level)", *args)
