"""The offline brain: lines composed from who the agents are, with no model and no network.

It is what runs when no LLM is configured, so a fresh town still talks. It is labelled as
what it is everywhere it shows (``/health``, the page): its lines come from templates
filled with the speaker's plan and identity, the other's name and what the speaker
remembers of them (retrieved by vector search like any agent's memories), chosen by a
seeded random, not from a language model.

It is an :class:`~smalltown.llm.base.LLM` whose ``composer`` is itself: callers take its
lines from :meth:`OfflineBrain.compose` and never call :meth:`OfflineBrain.chat`. It counts
no usage (``usage`` is None) and costs nothing.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from smalltown.llm.base import ChatResult, EmbedResult, Persona, Transcript
from smalltown.llm.config import NO_LLM
from smalltown.llm.errors import LLMUnavailable
from smalltown.llm.prices import OFFLINE, Cost

DESCRIPTION = "offline brain (template lines; no LLM configured)"

_OPENERS = [
    "Hi {other}! Good to see you.",
    "Oh, {other}, just who I hoped to run into.",
    "Morning, {other}. Have you got a minute?",
    "{other}! I was just thinking about you.",
]
_FOLLOW_UPS = [
    "That's interesting. {plan}",
    "Really? {plan}",
    "I hadn't thought of that. Anyway, {plan_lower}",
    "Funny you say that, {other}. {plan}",
    "Hm. Do you ever get the feeling this town keeps secrets? {plan}",
    "You know, {about_me}",
]
_REMEMBERING = [
    "Good to see you again, {other}. I remember {memory}",
    "{other}! That reminds me: {memory}",
    "Oh, {other}. I was just thinking of it: {memory}",
]
_GOODBYES = [
    "I should get going, {other}. Let's talk again soon!",
    "Well, I'd better be off. Take care, {other}.",
    "Lovely chatting, {other}. See you around the square.",
]


def _first_person(plan: str) -> str:
    """Turn an instruction ("You want to ...") into something said ("I want to ...")."""
    text = plan.strip()
    text = re.sub(r"^You want\b", "I want", text)
    text = re.sub(r"\bYou\b", "I", text)
    # "you" doing something is "I"; "you" having something done to it is "me".
    text = re.sub(rf"\byou\b(?= ({_VERBS})\b)", "I", text)
    text = re.sub(r"\byou\b", "me", text)
    text = re.sub(r"\byour\b", "my", text)
    return text or "I'm just enjoying the day."


_VERBS = (
    "saw|see|have|had|are|were|want|will|would|can|could|do|did|think|know|need|like|"
    "love|met|heard|found|made|keep|kept"
)


def _about(identity: str, name: str) -> str:
    # The first clause only: later verbs agree with "he" or "she", not with "I".
    sentence = re.split(r"\. |, | and ", identity, maxsplit=1)[0].strip().rstrip(".")
    sentence = re.sub(rf"^{re.escape(name)}\b", "I", sentence)
    sentence = re.sub(
        r"\b(is|was)\b", lambda m: {"is": "am", "was": "was"}[m.group(1)], sentence, count=1
    )
    sentence = re.sub(r"^I (\w+)", lambda m: "I " + _agree(m.group(1)), sentence)
    return (sentence + ".") if sentence else "I like it here."


def _agree(verb: str) -> str:
    """A third-person verb as "I" says it: plays -> play, carries -> carry, has -> have."""
    if verb in ("am", "was") or not verb.endswith("s") or verb.endswith("ss"):
        return verb
    if verb == "has":
        return "have"
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return verb[:-2]
    return verb[:-1]


def _recalled(memory: str, other: str, limit: int = 140) -> str:
    """A first-person memory as said to the person it is about: "I talked with Ada, who
    said ..." becomes "I talked with you, who said ..."."""
    text = memory.strip()
    if other:
        text = re.sub(rf"\b{re.escape(other)}\b", "you", text)
    text = re.sub(r"^I talked with you", "talking with you", text)
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text if text.endswith((".", "!", "?", "…", "”")) else text + "."


def remember(other: str, transcript: Transcript) -> str:
    """What the offline brain writes down after a conversation: who, and their last words."""
    said = [text for author, text in transcript if author == other]
    if said:
        return f"I talked with {other}, who said: “{said[-1]}”"
    return f"I talked with {other}."


class OfflineBrain:
    """The LLM when none is configured, and the :class:`~smalltown.llm.base.Composer` of
    its lines."""

    description = DESCRIPTION
    chat_model = "none"
    embedding_model = "none"
    is_local = True
    usage = None  # no model is called: nothing to count

    @property
    def composer(self) -> OfflineBrain:
        return self

    def compose(
        self,
        kind: str,
        me: Persona,
        other: Persona,
        transcript: Transcript,
        seed: str,
        memories: Sequence[str] = (),
    ) -> str:
        rng = random.Random(f"offline:{seed}:{len(transcript)}")
        plan = _first_person(me.get("plan", ""))
        values = {
            "other": other.get("name", "friend"),
            "plan": plan,
            "plan_lower": plan[:1].lower() + plan[1:],
            "about_me": _about(me.get("identity", ""), me.get("name", "")),
        }
        if memories:
            values["memory"] = _recalled(rng.choice(list(memories)), other.get("name", ""))
        if kind == "leave":
            template = rng.choice(_GOODBYES)
        elif memories and (kind == "start" or not transcript or rng.random() < 0.3):
            template = rng.choice(_REMEMBERING)
        elif kind == "start" or not transcript:
            template = rng.choice(_OPENERS) + " " + plan
            return template.format(**values)
        else:
            template = rng.choice(_FOLLOW_UPS)
        return template.format(**values)

    def remember(self, other: str, transcript: Transcript) -> str:
        return remember(other, transcript)

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 300,
        temperature: float = 0.7,
        stop: Sequence[str] = (),
    ) -> ChatResult:
        raise LLMUnavailable(f"the offline brain has no model to ask ({NO_LLM})")

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return (await self.embed_counted(texts)).vectors

    async def embed_counted(self, texts: Sequence[str]) -> EmbedResult:
        raise LLMUnavailable(f"the offline brain embeds nothing; an embedder does ({NO_LLM})")

    def price_call(self, model: str, input_tokens: int, output_tokens: int = 0) -> float | None:
        return 0.0

    def cost(self) -> Cost:
        return OFFLINE

    async def close(self) -> None:
        return None
