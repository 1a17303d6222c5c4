"""Reflection: once enough has happened to an agent, three insights drawn from its recent
memories, kept as memories of their own that cite the ones they came from.

The insights come rated in the same answer (an insight without a rating is rated by a
call of its own). Only the latest ``REFLECTION_WINDOW`` memories are read, and nothing is
asked when none of them matters much (``NOTABLE``): a run of small talk teaches nothing,
and the next memory that matters brings the reflection.
"""

from __future__ import annotations

from collections.abc import Sequence

from smalltown.agents.embeddings import embed
from smalltown.agents.prompts import (
    importance_messages,
    parse_importance,
    parse_rated_insights,
    reflection_messages,
)
from smalltown.agents.town_access import MeteredLLM, Person, RecentMemory, TownAccess

REFLECTION_THRESHOLD = 500.0  # summed importance since the last reflection
REFLECTION_WINDOW = 20  # the latest memories a reflection reads
NOTABLE = 6.0  # a reflection needs at least one memory rated this high


async def reflect(town: TownAccess, llm: MeteredLLM, player_id: str, me: Person) -> int:
    """Three insights from recent memories, stored as reflection memories citing them; how
    many were stored (none when it is not yet time, or with no model to ask)."""
    if llm.llm is None or llm.llm.composer is not None:
        return 0
    due = await town.reflection_due(player_id, REFLECTION_THRESHOLD)
    recent = worth_reflecting_on(due or [])
    if not recent:
        return 0
    answer = await llm.chat(
        reflection_messages(me, [m["description"] for m in recent]), max_tokens=300
    )
    stored = 0
    for insight, cited, importance in parse_rated_insights(answer.text, len(recent)):
        if importance is None:
            rating = await llm.chat(importance_messages(me, insight), max_tokens=5)
            importance = parse_importance(rating.text)
        vector = await embed(town, llm, insight)
        await town.store_reflection(
            player_id, insight, importance, vector, [recent[n - 1]["_id"] for n in cited]
        )
        stored += 1
    return stored


def worth_reflecting_on(due: Sequence[RecentMemory]) -> list[RecentMemory]:
    """The latest ``REFLECTION_WINDOW`` of the memories due a reflection; none when not one
    of them matters much (or their importance is unknown)."""
    recent = list(due[-REFLECTION_WINDOW:])
    if not any(m.get("importance", NOTABLE) >= NOTABLE for m in recent):
        return []
    return recent
