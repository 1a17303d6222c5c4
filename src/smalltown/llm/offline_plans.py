"""The offline brain's day plans: a plausible day, and an item's short steps, made from who
a resident is and the town's places, with no model.

The text has the shape the planning prompt asks an LLM for (``HH:MM | place | activity |
emoji``, one item a line; steps one a line), so one parser reads both, and the same plan
stands in for an LLM's answer that cannot be used.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from smalltown.llm.base import Persona

#: (words in who they are, what they do, its emoji, a word of the place it suits)
PURSUITS = (
    (("bakery", "bread", "sourdough", "loaf"), "baking and handing out bread", "🍞", "bakery"),
    (("flower", "botan", "garden"), "looking for wildflowers", "🌼", "garden"),
    (("guitar", "song", "music", "singer"), "playing a tune", "🎸", "fountain"),
    (("newspaper", "scoop", "writes"), "asking people questions", "📝", "market"),
    (("sea glass", "lighthouse", "harbour"), "sorting sea glass", "🐚", "pond"),
    (("clock",), "mending a clock", "🕰️", "clock"),
    (("bees", "honey"), "tending the hives", "🐝", "pond"),
    (("fish",), "fishing", "🎣", "pond"),
    (("bicycle", "puncture"), "fixing a bicycle", "🚲", "street"),
    (("library", "atlas", "book"), "shelving books", "📚", "library"),
    (("school", "teacher"), "preparing lessons", "✏️", "school"),
    (("taxi", "errand"), "running errands", "🚕", "street"),
)
PASTIMES = (
    ("taking a stroll", "🚶"),
    ("resting on a bench", "🪑"),
    ("chatting with neighbours", "💬"),
    ("reading a book", "📖"),
    ("buying groceries", "🧺"),
    ("feeding the ducks", "🦆"),
)
STEPS = (
    "getting ready",
    "settling in",
    "getting on with it",
    "taking a short break",
    "finishing up",
)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _place_for(hint: str, places: Sequence[str], rng: random.Random) -> str:
    for place in places:
        if hint in place.lower():
            return place
    return places[rng.randrange(len(places))]


def plan_text(me: Persona, places: Sequence[str], minute: int, seed: str) -> str:
    """A plan for the rest of the day from ``minute`` (of the day): four or five items
    from what ``me`` is about and the places, the same for the same ``seed``."""
    if not places:
        return ""
    rng = random.Random(f"plan:{seed}:{me['name']}")
    about = f"{me['identity']} {me['plan']}".lower()
    own = [
        (activity, emoji, _place_for(hint, places, rng))
        for words, activity, emoji, hint in PURSUITS
        if any(word in about for word in words)
    ]
    spare = list(PASTIMES)
    rng.shuffle(spare)
    chosen = own[:2] + [
        (activity, emoji, places[rng.randrange(len(places))]) for activity, emoji in spare
    ]
    left = 24 * 60 - minute
    count = max(2, min(5, left // 90))
    span = left // count
    lines = []
    for k in range(count):
        activity, emoji, place = chosen[k % len(chosen)]
        at = minute + k * span
        at = at if k == 0 else at - at % 15  # later items on the quarter hour
        lines.append(f"{_clock(at)} | {place} | {activity} | {emoji}")
    return "\n".join(lines)


def steps_text(activity: str, seed: str) -> str:
    """Three short steps of ``activity``."""
    rng = random.Random(f"steps:{seed}")
    middle = STEPS[1 + rng.randrange(len(STEPS) - 2)]
    return "\n".join((STEPS[0], f"{middle}: {activity}", STEPS[-1]))
