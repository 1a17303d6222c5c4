"""A line of talk: what an agent says next in a conversation, from the LLM or, offline,
from the brain's templates; with what it remembers of the other person, and news it heard
elsewhere to pass on (with who told it, as its memory says)."""

from __future__ import annotations

import logging

from smalltown.agents.memory import RECALLED, recall_or_none
from smalltown.agents.prompts import conversation_messages, first_line_of, usable_reply
from smalltown.agents.town_access import MeteredLLM, TownAccess
from smalltown.llm import NO_LLM, LLMBudgetExceeded, LLMError, LLMUnavailable

log = logging.getLogger("smalltown.agents")
REPLY_TOKENS = 120


async def news_or_none(town: TownAccess, player_id: str, listeners: list[str]) -> list[str]:
    """News the player could pass on to these listeners; none when it cannot be read."""
    try:
        return await town.news(player_id, listeners)
    except Exception as exc:
        log.warning("agent %s speaks without news: %s", town.agent_id, exc)
        return []


async def say_next_line(
    town: TownAccess,
    llm: MeteredLLM,
    player_id: str,
    other_player_id: str,
    conversation_id: str,
    message_uuid: str,
    kind: str,
) -> None:
    """Say the agent's next line (``kind``: start, continue or leave) and tell the engine;
    when the LLM cannot answer, free the agent and show the world why, with the fix."""
    if llm.llm is None:
        await town.fail_operation(LLMUnavailable(NO_LLM))
        return
    context = await town.conversation_context(player_id, other_player_id, conversation_id)
    me, other = context["me"], context["other"]
    transcript = [(author, text) for author, text in context["transcript"]]
    composer = llm.llm.composer
    listeners = context.get("otherPlayerIds", [other_player_id])
    # News it heard elsewhere goes into its first line, to be passed on.
    news = await news_or_none(town, player_id, listeners) if first_line_of(me, transcript) else []
    if composer is not None:  # the offline brain: no prompt, lines from templates
        memories = news + await recall_or_none(town, llm, player_id, other)
        text = await composer.compose(
            kind, me, other, transcript, message_uuid, memories, embedder=llm.embedder
        )
    else:
        try:
            await llm.check_budget()
        except LLMBudgetExceeded as exc:
            await town.fail_operation(exc)
            return
        # What it remembers of the other goes into its first line only (see prompts),
        # two things in all: news to pass on counts as one.
        memories = (
            await recall_or_none(town, llm, player_id, other, RECALLED - len(news))
            if first_line_of(me, transcript)
            else []
        )
        try:
            prompt = conversation_messages(
                kind,
                me,
                other,
                transcript,
                context["metBefore"],
                memories,
                context.get("others", [other]),
                news,
            )
            reply = await llm.chat(prompt, max_tokens=REPLY_TOKENS)
            text = usable_reply(reply.text, kind, llm.llm.description)
        except LLMError as exc:
            log.warning("agent %s could not speak: %s", town.agent_id, exc)
            await town.fail_operation(exc)
            return
    await town.finish_message(player_id, conversation_id, message_uuid, text, leave=kind == "leave")
