"""What agents are asked, and how their answers are tidied and read. Our own wording."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from smalltown.agents.town_access import Person
from smalltown.llm import LLMResponseError

MAX_REPLY_CHARS = 200
_PREFIX = re.compile(r"^\s*[\w .'-]{1,30}:\s+")
_GREETING = re.compile(r"^(hi|hello|hey|good (morning|afternoon|evening))\b[^.!?]*[.!?]\s*", re.I)


TRANSCRIPT_WINDOW = 2  # the latest lines a line's prompt carries, after the first
SUMMARY_LINES = 2  # the latest lines of the other's a summary is written from
#: how a summary is asked for, rated in the same answer (``parse_rated`` reads it)
REMEMBER = (
    "In a sentence or two, in the first person, write down what you want to remember "
    "(news: who told you). Last line: Importance: N (0 trivial, 9 life-changing)."
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@functools.lru_cache(maxsize=4096)
def _first_sentence(text: str) -> str:
    return _SENTENCE.split(text.strip(), maxsplit=1)[0]


def persona(person: Person) -> str:
    """Who someone is, in a sentence: the first of their identity (or description),
    worked out once per text and kept."""
    return _first_sentence(str(person.get("identity") or person.get("description") or ""))


def first_line_of(me: Person, transcript: Sequence[tuple[str, str]]) -> bool:
    """Whether ``me`` has not spoken yet in this conversation."""
    return all(author != me["name"] for author, _ in transcript)


def names(people: Sequence[Person]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    said = [str(p["name"]) for p in people]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


def conversation_messages(
    kind: str,
    me: Person,
    other: Person,
    transcript: list[tuple[str, str]],
    met_before: bool,
    memories: Sequence[str] = (),
    others: Sequence[Person] = (),
    news: Sequence[str] = (),
) -> list[dict[str, str]]:
    """Chat messages for the next line ``me`` says to ``other``.

    The speaker's first line in a conversation is told who both are, its plan, whether
    they met, what it remembers of the other, and the lines so far. Later lines are told
    only the latest ``TRANSCRIPT_WINDOW`` lines: the talk has taken its course by then.
    With ``others`` (a group: everyone else in it, ``other`` first) it is told of all.
    ``news``: what it heard elsewhere, to pass on with its source (first line only)."""
    if len(others) > 1:
        return with_news(group_messages(kind, me, list(others), transcript, memories), news)
    if not first_line_of(me, transcript):
        task = (
            f"you must go: say a short, warm goodbye to {other['name']}."
            if kind == "leave"
            else f"answer {other['name']} briefly."
        )
        lines = "\n".join(f"{a}: {t}" for a, t in transcript[-TRANSCRIPT_WINDOW:])
        return [
            {"role": "system", "content": f"You are {me['name']}; {task}"},
            {"role": "user", "content": lines},
        ]
    situation = {
        "start": f"You have just walked up to {other['name']}. Open the conversation.",
        "continue": f"Carry on the conversation with {other['name']}.",
        "leave": f"You need to go now. Say a short, warm goodbye to {other['name']}.",
    }[kind]
    history = "You have met before." if met_before else "You have not met before."
    system = (
        f"You are {me['name']}, who lives in town. {persona(me)} On your mind today: "
        f"{me.get('plan', '')}\n{other['name']}: {persona(other) or 'A neighbour.'} {history} "
        f"{situation} Answer in a sentence or two."
    )
    if memories:
        system += "\nWhat you remember:\n" + "\n".join(f"- {m}" for m in memories)
    lines = "\n".join(f"{a}: {t}" for a, t in transcript[-TRANSCRIPT_WINDOW:])
    user = f"So far:\n{lines}" if lines else "Nobody has spoken yet."
    return with_news(
        [{"role": "system", "content": system}, {"role": "user", "content": user}], news
    )


def with_news(messages: list[dict[str, str]], news: Sequence[str]) -> list[dict[str, str]]:
    """The prompt, told of news to pass on (and to say who it came from)."""
    if news:
        messages[0]["content"] += (
            "\nNews you heard lately; pass it on, saying who told you: " + news[0]
        )
    return messages


GROUP_WINDOW = 3  # the latest lines a group line's first prompt carries


def group_messages(
    kind: str,
    me: Person,
    others: list[Person],
    transcript: list[tuple[str, str]],
    memories: Sequence[str] = (),
) -> list[dict[str, str]]:
    """A line in a group, answering ``others[0]``. The speaker's first line is told who
    everyone is, its memories and the latest ``GROUP_WINDOW`` lines; later ones, as in a
    talk of two, only who is there and the latest ``TRANSCRIPT_WINDOW`` lines."""
    answered = others[0]["name"]
    if not first_line_of(me, transcript):
        task = (
            f"you must go: say a short, warm goodbye to {names(others)}."
            if kind == "leave"
            else f"answer {answered} briefly, or bring in someone else by name."
        )
        lines = "\n".join(f"{a}: {t}" for a, t in transcript[-TRANSCRIPT_WINDOW:])
        return [
            {"role": "system", "content": f"You are {me['name']}, with {names(others)}; {task}"},
            {"role": "user", "content": lines},
        ]
    task = {
        "start": f"You have just joined {names(others)}. Open the conversation.",
        "continue": f"Answer {answered}, or bring in someone else by name.",
        "leave": f"You need to go now. Say a short, warm goodbye to {names(others)}.",
    }[kind]
    who = "\n".join(f"- {p['name']}: {persona(p) or 'A neighbour.'}" for p in others)
    system = (
        f"You are {me['name']}, who lives in town, talking with several neighbours at once. "
        f"{persona(me)}\nWith you:\n{who}\n{task} Answer in a sentence or two, as yourself."
    )
    if memories:
        system += "\nWhat you remember:\n" + "\n".join(f"- {m}" for m in memories)
    lines = "\n".join(f"{a}: {t}" for a, t in transcript[-GROUP_WINDOW:])
    user = f"So far:\n{lines}" if lines else "Nobody has spoken yet."
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
    me: Person,
    other: Person,
    transcript: list[tuple[str, str]],
    others: Sequence[Person] = (),
) -> list[dict[str, str]]:
    """What ``me`` writes down after talking with ``other``: from the first and the latest
    ``SUMMARY_LINES`` lines the other said (the whole talk when they said nothing), rated
    in the same answer (a last line ``Importance: N``, read by ``parse_rated``). After a
    group (``others``, more than one), from each one's first line (where news is told)
    and the latest ``SUMMARY_LINES`` lines of theirs, by name."""
    if len(others) > 1:
        everyone = {str(p["name"]) for p in others}
        said = [(a, t) for a, t in transcript if a in everyone]
        first_of: dict[str, int] = {}
        for i, (author, _) in enumerate(said):
            first_of.setdefault(author, i)
        kept = sorted({*first_of.values(), *range(max(0, len(said) - SUMMARY_LINES), len(said))})
        heard = "\n".join(f"{said[i][0]}: {said[i][1]}" for i in kept) or "Nobody else spoke."
        return [
            {"role": "system", "content": f"You are {me['name']}."},
            {
                "role": "user",
                "content": f"You just talked with {names(others)}. What they said:\n{heard}\n"
                + REMEMBER,
            },
        ]
    theirs = [text for author, text in transcript if author == other["name"]]
    # Their first line (where news is told) and their latest.
    theirs = theirs[:1] + theirs[1:][-SUMMARY_LINES:]
    if theirs:
        heard = f"{other['name']} said:\n" + "\n".join(f"- {t}" for t in theirs)
    else:
        heard = "\n".join(f"{author}: {text}" for author, text in transcript)
    return [
        {"role": "system", "content": f"You are {me['name']}."},
        {
            "role": "user",
            "content": f"You just talked with {other['name']}. {heard}\n{REMEMBER}",
        },
    ]


def importance_messages(me: Person, memory: str) -> list[dict[str, str]]:
    """A rating alone, for a memory whose answer came without one."""
    return [
        {"role": "system", "content": f"You are {me['name']}."},
        {
            "role": "user",
            "content": f"On a scale of 0 (trivial) to 9 (life-changing), how "
            f"much does this matter to you? Answer with one digit.\n{memory}",
        },
    ]


def reflection_messages(me: Person, memories: list[str]) -> list[dict[str, str]]:
    """Three insights, each citing its memories and rated in the same answer."""
    numbered = "\n".join(f"{i}. {m}" for i, m in enumerate(memories, 1))
    return [
        {"role": "system", "content": f"You are {me['name']}. {persona(me)}"},
        {
            "role": "user",
            "content": f"Here is what you remember lately:\n{numbered}\n"
            "What three things have you learned about yourself or the town? Write each on its "
            "own line, ending with the numbers of the memories it comes from and how much it "
            "matters to you from 0 to 9, like: 'Tobias is proud of his bread (2, 5) "
            "Importance: 6'.",
        },
    ]


def parse_importance(text: str) -> float:
    """The first digit 0-9 in a model's answer; 5 when there is none."""
    for char in text:
        if char.isdigit():
            return float(char)
    return 5.0


_RATED = re.compile(r"[\s(\[,;-]*\bimportance\b\W{0,3}(\d)\b[)\].]?\s*", re.I)
_CITES = re.compile(r"\(([\d,\s]+)\)\s*\.?\s*$")


def parse_rated(text: str) -> tuple[str, float | None]:
    """An answer with its last ``Importance: N`` taken out, and N (None without one)."""
    every = list(_RATED.finditer(text))
    if not every:
        return text, None
    found = every[-1]
    rest = (text[: found.start()] + "\n" + text[found.end() :]).strip()
    return rest, float(found.group(1))


def parse_rated_insights(text: str, count: int) -> list[tuple[str, list[int], float | None]]:
    """Up to three ``(insight, cited memory numbers, importance or None)``."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(\d+[.)]|[-*])\s*", "", line).strip()
        line, importance = parse_rated(line)
        line = line.strip().strip("'\"").strip()
        if not line:
            continue
        found = _CITES.search(line)
        cited = []
        if found:
            cited = [int(n) for n in re.findall(r"\d+", found.group(1)) if 1 <= int(n) <= count]
            line = line[: found.start()].strip()
        if line:
            out.append((line, cited, importance))
    return out[:3]


def parse_insights(text: str, count: int) -> list[tuple[str, list[int]]]:
    """Up to three ``(insight, cited memory numbers)`` from the model's lines."""
    return [(line, cited) for line, cited, _ in parse_rated_insights(text, count)]
