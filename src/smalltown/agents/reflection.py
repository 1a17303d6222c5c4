"""Reflection: once enough has happened to an agent, three insights drawn from its recent
memories, kept as memories of their own that cite the ones they came from."""

from __future__ import annotations

from smalltown.agents.embeddings import embed
from smalltown.agents.prompts import (
    importance_messages,
    parse_importance,
    parse_insights,
    reflection_messages,
)
from smalltown.agents.town_access import MeteredLLM, Person, TownAccess

REFLECTION_THRESHOLD = 500.0  # summed importance since the last reflection


async def reflect(town: TownAccess, llm: MeteredLLM, player_id: str, me: Person) -> int:
    """Three insights from recent memories, stored as reflection memories citing them; how
    many were stored (none when it is not yet time, or with no model to ask)."""
    recent = await town.reflection_due(player_id, REFLECTION_THRESHOLD)
    if not recent or llm.llm is None or llm.llm.composer is not None:
        return 0
    answer = await llm.chat(
        reflection_messages(me, [m["description"] for m in recent]), max_tokens=300
    )
    stored = 0
    for insight, cited in parse_insights(answer.text, len(recent)):
        rating = await llm.chat(importance_messages(me, insight), max_tokens=5)
        vector = await embed(town, llm, insight)
        await town.store_reflection(
            player_id,
            insight,
            parse_importance(rating.text),
            vector,
            [recent[n - 1]["_id"] for n in cited],
        )
        stored += 1
    return stored
