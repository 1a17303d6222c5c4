"""Agents' memory: recalling what matters about someone, and remembering a conversation.

Recall finds candidates by vector search, then ranks them by relevance, importance and
recency, each scaled to 0..1 and added. AI Town divides by (max - min) and so returns NaN
when every score is equal (one memory, say); here an even set of scores counts as a tie
at 1, never as NaN. Remembering writes a conversation down in the first person, rated (in
the same answer; by a call of its own only when the answer had no rating) and embedded,
then lets the agent reflect (``reflection.py``). A group's talk is remembered with
everyone in it. News it cares about that names a time may change its plan
(``planning.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from smalltown.agents.embeddings import embed
from smalltown.agents.events import NEWS_IMPORTANCE
from smalltown.agents.planning import plan_for_news
from smalltown.agents.prompts import (
    importance_messages,
    names,
    parse_importance,
    parse_rated,
    summary_messages,
    usable_reply,
)
from smalltown.agents.reflection import reflect
from smalltown.agents.town_access import MeteredLLM, Person, TownAccess
from smalltown.llm import Composer, LLMError
from smalltown.llm.offline import OfflineBrain

log = logging.getLogger("smalltown.agents")
RECENCY_PER_HOUR = 0.99
HOUR_MS = 3_600_000
MEMORY_CANDIDATES = 10  # fetched per wanted memory, then ranked (as AI Town does)
OFFLINE_NEWS_IMPORTANCE = 7.0  # offline, news heard is rated worth passing on
RECALLED = 2  # memories an agent brings to a conversation (its first line), news counted


def normalise(values: Sequence[float]) -> list[float]:
    if not values:
        return []
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return [1.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def rank(
    candidates: Sequence[tuple[str, float, float, float]], now: float, count: int
) -> list[str]:
    """``(memory id, cosine relevance, importance 0-9, last access ms)`` → best ``count`` ids."""
    if not candidates:
        return []
    relevance = normalise([c[1] for c in candidates])
    importance = normalise([c[2] for c in candidates])
    recency = normalise([RECENCY_PER_HOUR ** max(0.0, (now - c[3]) / HOUR_MS) for c in candidates])
    scored = sorted(
        zip(candidates, relevance, importance, recency, strict=True),
        key=lambda item: (-(item[1] + item[2] + item[3]), item[0][0]),
    )
    return [item[0][0] for item in scored[:count]]


async def recall(
    town: TownAccess, llm: MeteredLLM, player_id: str, about: str, count: int
) -> list[str]:
    """The player's ``count`` best memories about ``about``: vector search for candidates,
    then relevance, importance and recency together."""
    vector = await embed(town, llm, about)
    found = await town.vector_search(vector, player_id, count * MEMORY_CANDIDATES)
    if not found:
        return []
    memories = await town.memories_by_embedding([id for id, _ in found])
    by_embedding = {m["embeddingId"]: m for m in memories}
    now = time.time() * 1000
    candidates = [
        (
            by_embedding[id]["_id"],
            score,
            by_embedding[id]["importance"],
            by_embedding[id]["lastAccess"],
        )
        for id, score in found
        if id in by_embedding
    ]
    chosen = rank(candidates, now, count)
    await town.touch_memories(chosen, now)
    descriptions = {m["_id"]: m["description"] for m in memories}
    return [descriptions[id] for id in chosen]


async def recall_or_none(
    town: TownAccess, llm: MeteredLLM, player_id: str, other: Person, count: int = RECALLED
) -> list[str]:
    """What the player remembers of ``other`` to bring to a conversation (``count`` at
    most); nothing when recall fails (speaking without memories beats not speaking)."""
    if count <= 0:
        return []
    try:
        return await recall(town, llm, player_id, str(other["name"]), count=count)
    except Exception as exc:
        log.warning("agent %s speaks without memories: %s", town.agent_id, exc)
        return []


async def remember_conversation(town: TownAccess, llm: MeteredLLM, conversation_id: str) -> None:
    """Write the conversation down as a first-person memory, rated and embedded; then
    reflect if enough has happened. A failure frees the agent and shows the world why."""
    context = await town.memory_context(conversation_id)
    if context is None or not context["transcript"]:
        await town.finish_remember()
        return
    me, other = context["me"], context["other"]
    transcript = [(author, text) for author, text in context["transcript"]]
    composer: Composer | None = OfflineBrain() if llm.llm is None else llm.llm.composer
    try:
        if composer is not None:  # offline: the gist, plainly
            group = context.get("others", [other])
            summary = composer.remember(
                names(group) if len(group) > 1 else other["name"], transcript
            )
            importance = OFFLINE_NEWS_IMPORTANCE if " told me about " in summary else 5.0
        else:
            assert llm.llm is not None
            asked = summary_messages(me, other, transcript, context.get("others", [other]))
            answer = await llm.chat(asked, max_tokens=120)
            text, rated = parse_rated(answer.text)
            summary = usable_reply(text, "summary", llm.llm.description, 300)
            if rated is None:  # the answer came without its rating: ask for it alone
                rating = await llm.chat(importance_messages(me, summary), max_tokens=5)
                rated = parse_importance(rating.text)
            importance = rated
        vector = await embed(town, llm, summary)
    except LLMError as exc:
        log.warning("agent %s could not remember: %s", town.agent_id, exc)
        await town.fail_operation(exc)
        return
    if importance >= NEWS_IMPORTANCE:  # news it cares about may change its plan
        try:
            await plan_for_news(town, llm, summary)
        except Exception as exc:  # the memory matters more than the plan
            log.warning("agent %s could not plan for news: %s", town.agent_id, exc)
    await town.store_memory(
        context["playerId"],
        summary,
        importance,
        vector,
        {
            "type": "conversation",
            "conversationId": conversation_id,
            "playerIds": [
                context["playerId"],
                *context.get("otherPlayerIds", [context["otherPlayerId"]]),
            ],
        },
    )
    try:
        await reflect(town, llm, context["playerId"], me)
    except LLMError as exc:  # a missed reflection is not worth failing the memory over
        log.warning("agent %s could not reflect: %s", town.agent_id, exc)
