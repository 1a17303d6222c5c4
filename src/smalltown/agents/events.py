"""Events heard of: a party, a concert, a market at a time of day and a place of the town,
read from what a resident wrote down, so that its plan can gain the event.

Read with rules, not a model: "Kofi told me about a party at the fountain at five" names
a gathering (``GATHERINGS``), a time ("at five", "at 5:30 pm", "at half past four", "at
17:00", "at noon") and one of the town's places by name, and that is enough to plan on,
for the offline brain and an LLM alike. A time without a place of the town (or the
other way round) is not an event to walk to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from smalltown.agents.town_access import Place

NEWS_IMPORTANCE = 6.0  # a memory this important is news worth passing on, and planning on
LATE_MINUTES = 30  # an event begun this long ago is missed: not planned
EMOJI = "🎉"
GATHERINGS = (
    "party",
    "picnic",
    "concert",
    "dance",
    "fair",
    "festival",
    "feast",
    "parade",
    "market",
    "meeting",
    "gathering",
    "celebration",
    "wedding",
    "dinner",
    "supper",
    "lunch",
    "tea",
    "barbecue",
    "bonfire",
    "show",
    "play",
    "reading",
    "match",
    "race",
    "quiz",
    "sale",
)
_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_NUMBERS = {word: n for n, word in enumerate((*_WORDS, "eleven", "twelve"), 1)}
_NOT_A_TIME = r"(?!\s+(?:point|time|of|another|more|way|day|week|at\s+a\s+time)\b)"
_HOUR = r"\d{1,2}|(?:" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")\b" + _NOT_A_TIME
_TIME = re.compile(
    r"\b(?:at|by|from|around)\s+(?:about\s+)?(?:"
    r"(?P<noon>noon|midday|midnight)"
    rf"|(?P<part>half|quarter)\s+(?P<rel>past|to)\s+(?P<rh>{_HOUR})"
    rf"|(?P<h>{_HOUR})(?:[:.h](?P<m>\d{{2}}))?(?:\s*o'?\s*clock)?\s*(?P<ampm>[ap]\.?\s?m\b\.?)?)",
    re.I,
)
_WHAT = re.compile(
    r"\b(?:a|an|the|their|his|her|our|my)\s+((?:[\w'-]+\s+){0,2}?(?:"
    + "|".join(GATHERINGS)
    + r"))\b",
    re.I,
)


def _hour(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word.lower()]


def time_said(text: str, minute: int) -> int | None:
    """The minute of the day of the first time ``text`` names, as the next such time from
    ``minute`` (now): "at five" in the afternoon is 17:00; "in the morning" or "am" make it
    the morning's. None when it names none, or one long over."""
    for found in _TIME.finditer(text):
        if found["noon"]:
            start = 0 if found["noon"].lower() == "midnight" else 12 * 60
            candidates = [start]
        else:
            if found["part"]:
                hour = _hour(found["rh"])
                mins = 30 if found["part"].lower() == "half" else 15
                if found["rel"].lower() == "to":
                    hour, mins = hour - 1, 45
            else:
                hour, mins = _hour(found["h"]), int(found["m"] or 0)
            if not (0 <= hour <= 23 and 0 <= mins < 60):
                continue
            ampm = (found["ampm"] or "").lower()[:1]
            lowered = text.lower()
            if hour > 12 or hour == 0:
                candidates = [hour * 60 + mins]
            elif ampm == "a" or "morning" in lowered:
                candidates = [(hour % 12) * 60 + mins]
            elif ampm == "p" or any(w in lowered for w in ("afternoon", "evening", "tonight")):
                candidates = [(hour % 12 + 12) * 60 + mins]
            else:  # said plainly: the next one from now, an afternoon before dawn
                candidates = [(hour % 12) * 60 + mins, (hour % 12 + 12) * 60 + mins]
                if hour < 7:
                    candidates = candidates[1:]
        for at in candidates:
            if at >= minute - LATE_MINUTES:
                return at
        return None
    return None


def place_said(text: str, places: Sequence[Place]) -> Place | None:
    """The town's place ``text`` names (the longest name said, "the" or not)."""
    lowered = text.lower()
    said = [
        (len(name), place)
        for place in places
        if (name := str(place["name"]).lower().removeprefix("the ").strip())
        and re.search(rf"\b{re.escape(name)}\b", lowered)
    ]
    return max(said, key=lambda found: found[0])[1] if said else None


def find_event(text: str, places: Sequence[Place], minute: int) -> dict[str, Any] | None:
    """A plan item for the gathering ``text`` tells of (start, place, tile, activity,
    emoji), if it names one, a time not long past and a place of the town."""
    what = _WHAT.search(text)
    if what is None:
        return None
    at = time_said(text, minute)
    place = place_said(text, places)
    if at is None or place is None:
        return None
    return {
        "start": float(at),
        "place": place["name"],
        "x": float(place["x"]),
        "y": float(place["y"]),
        "activity": f"at the {what[1].lower()}",
        "emoji": EMOJI,
    }
