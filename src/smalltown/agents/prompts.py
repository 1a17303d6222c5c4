"""What agents are asked, and how their answers are tidied and read. Our own wording."""

from __future__ import annotations

import re
from collections.abc import Sequence

from smalltown.agents.town_access import Person
from smalltown.llm import LLMResponseError

MAX_REPLY_CHARS = 200
_PREFIX = re.compile(r"^\s*[\w .'-]{1,30}:\s+")
_GREETING = re.compile(r"^(hi|hello|hey|good (morning|afternoon|evening))\b[^.!?]*[.!?]\s*", re.I)


def conversation_messages(
    kind: str,
    me: Person,
    other: Person,
    transcript: list[tuple[str, str]],
    met_before: bool,
    memories: Sequence[str] = (),
) -> list[dict[str, str]]:
    """Chat messages for the next line ``me`` says to ``other``."""
    situation = {
        "start": f"You have just walked up to {other['name']}. Open the conversation.",
        "continue": f"Carry on the conversation with {other['name']}.",
        "leave": f"You need to go now. Say a short, warm goodbye to {other['name']}.",
    }[kind]
    history = (
        f"You have talked with {other['name']} before."
        if met_before
        else f"You have not met {other['name']} before."
    )
    system = (
        f"You are {me['name']}, who lives in a small town. {me.get('identity', '')} "
        f"What is on your mind today: {me.get('plan', '')}\n"
        f"{other['name']}: {other.get('identity') or other.get('description') or 'a neighbour.'}\n"
        f"{history} {situation} Answer with only the words {me['name']} says next: one or "
        "two short sentences, no name in front, no quotation marks."
    )
    if memories:
        system += "\nWhat you remember:\n" + "\n".join(f"- {m}" for m in memories)
    lines = "\n".join(f"{author}: {text}" for author, text in transcript[-10:])
    user = f"The conversation so far:\n{lines}" if lines else "Nobody has spoken yet."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def clean_reply(text: str, kind: str, max_chars: int = MAX_REPLY_CHARS) -> str:
    """Small models wrap their line in names, quotes and extra lines; keep just the line."""
    text = text.strip().split("\n")[0].strip()
    text = _PREFIX.sub("", text).strip().strip("\"“”'").strip()
    if kind == "continue":
        text = _GREETING.sub("", text).strip() or text  # no hello in the middle of a talk
    if len(text) > max_chars:
        cut = max(
            text.rfind(". ", 0, max_chars),
            text.rfind("! ", 0, max_chars),
            text.rfind("? ", 0, max_chars),
        )
        text = text[: cut + 1] if cut > 40 else text[:max_chars].rsplit(" ", 1)[0] + "…"
    return text


def usable_reply(text: str, kind: str, source: str, max_chars: int = MAX_REPLY_CHARS) -> str:
    """The reply tidied; one with nothing left is refused (the operation fails, the status
    says why, the agent tries again later) rather than said or remembered. ``source``
    names the LLM for that message."""
    cleaned = clean_reply(text, kind, max_chars)
    if not cleaned.strip("…. "):
        raise LLMResponseError(
            f"{source} gave an empty reply ({text[:80]!r}); the agent will try again"
        )
    return cleaned


def summary_messages(
    me: Person, other: Person, transcript: list[tuple[str, str]]
) -> list[dict[str, str]]:
    lines = "\n".join(f"{author}: {text}" for author, text in transcript)
    return [
        {"role": "system", "content": f"You are {me['name']}. {me.get('identity', '')}"},
        {
            "role": "user",
            "content": f"You just talked with {other['name']}:\n{lines}\n"
            "In one or two sentences, in the first person, write down what you want to "
            "remember about this conversation.",
        },
    ]


def importance_messages(me: Person, memory: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"You are {me['name']}."},
        {
            "role": "user",
            "content": f"On a scale of 0 (trivial) to 9 (life-changing), how "
            f"much does this matter to you? Answer with one digit.\n{memory}",
        },
    ]


def reflection_messages(me: Person, memories: list[str]) -> list[dict[str, str]]:
    numbered = "\n".join(f"{i}. {m}" for i, m in enumerate(memories, 1))
    return [
        {"role": "system", "content": f"You are {me['name']}. {me.get('identity', '')}"},
        {
            "role": "user",
            "content": f"Here is what you remember lately:\n{numbered}\n"
            "What three things have you learned about yourself or the town? Write each on its "
            "own line, ending with the numbers of the memories it comes from, like: "
            "'Tobias is proud of his bread (2, 5)'.",
        },
    ]


def parse_importance(text: str) -> float:
    """The first digit 0-9 in a model's answer; 5 when there is none."""
    for char in text:
        if char.isdigit():
            return float(char)
    return 5.0


_CITES = re.compile(r"\(([\d,\s]+)\)\s*\.?\s*$")


def parse_insights(text: str, count: int) -> list[tuple[str, list[int]]]:
    """Up to three ``(insight, cited memory numbers)`` from the model's lines."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(\d+[.)]|[-*])\s*", "", line).strip()
        if not line:
            continue
        found = _CITES.search(line)
        cited = []
        if found:
            cited = [int(n) for n in re.findall(r"\d+", found.group(1)) if 1 <= int(n) <= count]
            line = line[: found.start()].strip()
        if line:
            out.append((line, cited))
    return out[:3]
