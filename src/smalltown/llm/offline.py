"""The offline brain: replies composed from who the agents are and what the town knows,
with no model and no network.

It is what runs when no LLM is configured, so a fresh town still talks. It is labelled as
what it is everywhere it shows (``/health``, the page): its lines are templates filled
with sentences, not a language model's words. What makes them replies is the choice of
sentence: of the speaker's plan, identity, memories and the town's facts
(``offline_facts.py``), the one most relevant to the line just heard
(``offline_relevance.py``: MiniLM cosine when the embedder is MiniLM, shared words
otherwise), said in a shape that answers a question or answers a remark. No line is said
twice in a conversation, and no sentence of content twice while unused ones remain. The
choice is seeded by the message, so a replay says the same. ``offline_seams.py`` checks
the output for template seams.

It is an :class:`~smalltown.llm.base.LLM` whose ``composer`` is itself: callers take its
lines from :meth:`OfflineBrain.compose` and never call :meth:`OfflineBrain.chat`. It counts
no usage (``usage`` is None) and costs nothing.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from smalltown.llm.base import ChatResult, Embedder, EmbedResult, Persona, Transcript
from smalltown.llm.config import NO_LLM
from smalltown.llm.errors import LLMUnavailable
from smalltown.llm.offline_facts import FACTS, base_name
from smalltown.llm.offline_plans import plan_text, steps_text
from smalltown.llm.offline_relevance import scores, semantic, words
from smalltown.llm.prices import OFFLINE, Cost

DESCRIPTION = "offline brain (template lines; no LLM configured)"

_OPENERS = [
    "Hi {other}! Good to see you.",
    "Oh, {other}, just who I hoped to run into.",
    "Morning, {other}. Have you got a minute?",
    "{other}! I was just thinking about you.",
]
_REMEMBERING = [
    "Good to see you again, {other}. I remember {memory}",
    "{other}! I was just remembering {memory}",
]
#: before an answer to a question ("" : the answer alone)
_ANSWERING = [
    "",
    "Good question.",
    "Oh, I can help with that.",
    "Let me think.",
    "Ah, that one I know.",
    "Happy to tell you, {other}.",
]
#: before a sentence that bears on a remark
_REACTING = [
    "That's interesting.",
    "I hadn't thought of that.",
    "Funny you should say so.",
    "I see what you mean, {other}.",
    "Oh, I like that.",
    "Now that you mention it,",
]
_ASKING_BACK = [
    "",
    "",
    "What about you, {other}?",
    "What do you think?",
    "Do you know anything more about it?",
    "Have you heard anything about that?",
]
#: after a sentence about oneself
_ASKING_BACK_ME = ["", "", "What about you, {other}?", "And you?"]
#: before a sentence beside what was just said: a change of subject, said as one
_SHIFTING = ["By the way,", "Anyway,", "On another note,", "Oh, before I forget,"]
#: a listener's own news, asked about rather than told to them
_ASKING_ABOUT = [
    "Any news about {topic}?",
    "How is it going with {topic}, {other}?",
    "Tell me, how are things with {topic}?",
]
#: before a sentence about oneself, when asked "what about you?"
_ABOUT_ME = ["Me? Well,", "As for me,", "Oh, me?", "Since you ask,"]
#: before one's own sentence in answer to a question put to "you"
_OF_MYSELF = ["", "Well,", "Oh,", "Me?"]
_ASKED_ABOUT_ME = re.compile(r"\s*(What about you\b[^?]*|And you)\?$")
_ASKED_BACK = re.compile(
    r"\s*(What do you think|Do you know anything more about it|Have you heard anything "
    r"about that)\?$"
)
#: when the best answer was given already: the answer said again, briefly, once
_TOLD_AGAIN = ["As I said,", "Like I told you,"]
#: ... and after that, instead of repeating it
_TOLD = [
    "That's all I know about {topic}, I'm afraid.",
    "I've told you what I know of {topic}, {other}.",
    "I wish I knew more about {topic} myself.",
]
#: when nothing known bears on a question
_UNSURE = [
    "Hm, I couldn't tell you, {other}. Ask around the square.",
    "I'm not sure, I'm afraid. Someone at the market might know.",
    "That I don't know, {other}. Try the bakery; everyone passes through there.",
]
#: the cosine (MiniLM) above which a sentence counts as on the line's topic
ON_TOPIC = 0.3  # as `smalltown bench brain` counts a reply on topic
#: the cosine (MiniLM) at or below which nothing known bears on the line
OFF_TOPIC = 0.15
_GOODBYES = [
    "I should get going, {other}. Let's talk again soon!",
    "Well, I'd better be off. Take care, {other}.",
    "Lovely chatting, {other}. See you around the square.",
    "I must run, {other}. Thanks for the talk!",
]
#: when every sentence has been said: lines that keep talk going without new content
_FILLERS = [
    "Tell me more, {other}.",
    "Go on, I'm listening.",
    "Is that so? I never knew.",
    "Well, that's something to think about.",
    "You always have something new to say, {other}.",
    "I'll remember that.",
]
_WH = re.compile(
    r"^(who|what|where|when|why|how|which|is|are|do|does|did|can|could|would|will|have|has|"
    r"should)\b",
    re.IGNORECASE,
)


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
    """A first-person memory as said to the person it is about: "I talked with Ada about
    the pond." becomes "talking with you about the pond."; a quoted remark from an older
    memory is left out, so quotes never nest."""
    text = re.sub(r",? who said:? [“\"].*$", ".", memory.strip(), flags=re.DOTALL)
    text = text.replace("“", "").replace("”", "").replace('"', "")
    if other:
        text = re.sub(rf"\b{re.escape(other)}'s\b", "your", text)
        text = re.sub(rf"\b{re.escape(other)}\b", "you", text)
    text = re.sub(r"^I talked with you", "talking with you", text)
    text = re.sub(r"([.!?] +)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text if text.endswith((".", "!", "?", "…")) else text + "."


#: residents' names: "Kofi" alone does not make a talk about Kofi's song
_NAMED = frozenset(w for f in FACTS if f.subject for w in words(f.subject))
#: the town's places and ways, facts about no one
_MAP = frozenset(f.topic for f in FACTS if not f.subject)
#: topics too general to be worth writing down
_GENERAL = frozenset(("the town", "how we are", "the neighbours", "the streets", "the houses"))


def _topics(lines: Sequence[str], loosely: bool = False) -> list[str]:
    """The town's topics ``lines`` name, in the order first named (``loosely``: or touch
    by a nearby word, as a question does: "bread?" is about the bakery)."""
    found: list[str] = []
    facts = [f for f in FACTS if f.topic not in _GENERAL]
    for line in lines:
        said = words(line)
        named = [f.topic for f in facts if said & (words(f.topic) - _NAMED)]
        # "Bram's fishing stool" is one topic, not also "the fishing": a topic whose words
        # all belong to another named in the line goes
        wider = [words(t) - _NAMED for t in named]
        named = [t for t in named if not any(words(t) - _NAMED < w for w in wider)]
        if loosely and not named:  # the best fitting topic by its nearby words
            near = max(facts, key=lambda f: len(said & words(f"{f.topic} {f.keywords}")))
            named = [near.topic] if said & words(f"{near.topic} {near.keywords}") else []
        found.extend(t for t in dict.fromkeys(named) if t not in found)
    return found


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _asked_about(sentence: _Sentence, lines: Sequence[str]) -> bool:
    """Whether one of ``lines`` asked about ``sentence``'s topic already."""
    topic = _yours(sentence.topic)
    return any(topic in line for line in lines)


def _yours(topic: str) -> str:
    """A topic as said to the resident it belongs to: "Kofi's song" is "your song"."""
    return re.sub(r"\b[A-Z][a-z]+'s\b", "your", topic)


def _question_in(line: str) -> str:
    """The question a line ends with ("" if none): its last sentence, unless that only
    hands the talk back ("What about you?"), which asks about nothing in particular."""
    if not line.rstrip().endswith("?"):
        return ""
    last = re.split(r"(?<=[.!?])\s+", line.strip())[-1]
    return "" if _ASKED_ABOUT_ME.fullmatch(last) or _ASKED_BACK.fullmatch(last) else last


def _mine(topic: str, me: str) -> str:
    """A topic as ``me`` writes it down: "Marisol's doorstep" is "my doorstep" to Marisol."""
    return re.sub(rf"\b{re.escape(base_name(me))}'s\b", "my", topic) if me else topic


_NEWS = re.compile(r"\btold (?:me|you) about (.+?[.!]?)(?=\s*$|\s+[A-Z])")


def remember(other: str, transcript: Transcript) -> str:
    """What the offline brain writes down after a conversation, in plain sentences: who,
    what about, and what they asked (no quotes, so memories of memories never nest); news
    they passed on ("... told me about X"), as X told by them."""
    speakers = {other, *re.split(r", | and ", other)}  # a group's "A, B and C"
    theirs = [text for author, text in transcript if author in speakers]
    for author, text in transcript:  # news passed on: kept, as told by whoever told it
        news = _NEWS.search(text) if author in speakers else None
        if news:
            told = news.group(1).rstrip()
            return f"{author} told me about {told}" + ("" if told.endswith((".", "!")) else ".")
    me = next((author for author, _ in transcript if author not in speakers), "")
    topics = [_mine(t, me) for t in _topics([text for _, text in transcript])[:3]]
    asked = _topics([q for q in map(_question_in, theirs) if q], loosely=True)[:1]
    asked = [_mine(t, me) for t in asked]
    if asked:
        rest = [t for t in topics if t != asked[0]]
        also = f" We also talked about {_listed(rest)}." if rest else ""
        return f"{other} asked me about {asked[0]}.{also}"
    return (
        f"I talked with {other} about {_listed(topics)}." if topics else f"I talked with {other}."
    )


@dataclass(frozen=True)
class _Sentence:
    """Something the speaker could say, and the extra words it answers to."""

    text: str
    keywords: str = ""
    own: bool = False  # about the speaker: preferred when asked about "you"
    theirs: bool = False  # about the listener: telling them is a last resort
    topic: str = ""  # what it is about, for "that's all I know about ..."
    forms: tuple[str, ...] = ()  # every way it is said: used once said in any of them
    subject: str = ""  # the resident it is about, if one
    memory: bool = False  # something remembered (recalled at most once a talk)


def _sentences(
    me: Persona, other: Persona, memories: Sequence[str], asked: bool = True
) -> list[_Sentence]:
    """What ``me`` could say to ``other`` (``asked``: in answer to a question)."""
    speaker, listener = base_name(me.get("name", "")), base_name(other.get("name", ""))
    found = [
        _Sentence(
            fact.said_by(speaker, listener),
            fact.keywords,
            own=fact.subject == speaker,
            theirs=fact.subject == listener,
            topic=fact.topic,
            forms=tuple(f for f in (fact.text, fact.mine, fact.yours) if f),
            subject=fact.subject,
        )
        for fact in FACTS
        if asked or not fact.asked_only
    ]
    if not any(s.own for s in found):  # a resident the facts do not know: their own words
        identity = me.get("identity", "")
        found.append(_Sentence(_about(identity, me.get("name", "")), identity, own=True))
    plan = _first_person(me.get("plan", ""))
    planned = words(plan)
    mine = [words(s.text) for s in found if s.own]
    if not any(len(planned & w) * 2 >= len(planned) for w in mine):  # not said already
        found.append(_Sentence(plan, own=True))
    for memory in memories:
        recalled = _recalled(memory, other.get("name", ""))
        found.append(_Sentence("I remember " + recalled, own=True, memory=True))
    return found


def _recalling(sentences: list[_Sentence], heard: str, talk: Sequence[str]) -> list[_Sentence]:
    """``sentences`` without the memories that should not be said now: any, once either
    recalled one in this ``talk`` (one memory a talk, not a string of them), and one much
    like the line just heard (two residents who talked with the same neighbour remember
    it alike: one says it, the other need not say it back)."""
    recalled = any(re.search(r"\bI (remember|was just remembering)\b", line) for line in talk)
    heard_words = words(heard)

    def echoes(sentence: _Sentence) -> bool:
        said = words(sentence.text)
        return bool(said) and len(said & heard_words) * 2 >= len(said)

    return [s for s in sentences if not (s.memory and (recalled or echoes(s)))]


#: words too plain to say back as a one-word question ("Day?")
_PLAIN = words(
    "day time way place people anyone anybody someone town here there thing week around about "
    "anything something nearby good new remember know think"
)


def _echo(heard: str, sentence: _Sentence) -> str:
    """The word of a question that ``sentence`` answers, said back as people do before
    answering ("Honey? Greta keeps bees ..."); "" when none is worth saying back."""
    wanted = words(f"{sentence.text} {sentence.keywords}") - _NAMED - _PLAIN
    runs: list[list[str]] = [[]]  # runs of neighbouring words it answers: "front page"
    for token in re.findall(r"[A-Za-z]+", heard):
        if words(token) & wanted:
            runs[-1].append(token)
        elif runs[-1]:
            runs.append([])
    said = max((" ".join(run) for run in runs), key=len)
    if len(said) <= 3:
        return ""
    return f"{said[0].upper()}{said[1:].lower()}?"


def _said(sentence: _Sentence, transcript: Transcript) -> bool:
    """Whether any form of ``sentence`` was said (a run-in sentence starts lowered)."""
    forms = [f[1:].casefold() for f in sentence.forms or (sentence.text,)]
    return any(form in line.casefold() for _, line in transcript for form in forms)


def _is_question(line: str) -> bool:
    line = line.strip()
    return line.endswith("?") or bool(_WH.match(line))


_LOWERABLE = "The There Someone Everyone On Six You A It This That"
_LOWERED = frozenset(_LOWERABLE.split())
_NAMES = frozenset(f.subject for f in FACTS if f.subject)


def _joined(*parts: str) -> str:
    """Parts as one line: single spaces; a part ending in a comma runs into the next,
    whose first word is lowered unless it is "I" or a name."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out.endswith(","):
            first = part.split(" ", 1)[0].strip("{}")
            if first in _LOWERED:
                part = part[0].lower() + part[1:]
            elif first != "I" and first not in _NAMES:
                out = out[:-1] + "."  # a word we cannot lower safely: a sentence of its own
        out = f"{out} {part}" if out else part
    return out


def _braced(text: str) -> str:
    """``text`` safe to put through ``str.format`` (its braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


async def _ranked(
    heard: str,
    sentences: Sequence[_Sentence],
    said: Sequence[bool],
    embedder: Embedder | None,
    me: str = "",
    gossiped: Counter[str] | None = None,
) -> tuple[list[_Sentence], _Sentence | None, bool, list[_Sentence]]:
    """``sentences`` most relevant to ``heard`` first; the best if it is on the topic but
    ``said`` already while no fresh one is (else None); whether none bears on the line
    at all; and those on its topic. Asked about "you", the speaker's own sentences are
    nudged up (an answer about oneself beats one about the town), and a little when a
    neighbour tells something (one answers from one's own life); the listener's own are
    nudged down (they know them); and, told something by a neighbour, the town's places
    too (residents talk of lives more than of the map), the more so once a place was
    named, as is a neighbour ``gossiped`` about already (by how often): one thing about
    them, not a list.
    A line that names ``me`` is put to "you"."""
    found = await scores(
        heard, [s.text for s in sentences], embedder, [s.keywords for s in sentences]
    )
    about_you = bool(re.search(r"\byou(r|rs|rself)?\b", heard, re.IGNORECASE)) or bool(
        me and re.search(rf"\b{re.escape(me)}\b", heard)
    )
    # Told something by a neighbour (whom the facts know), one talks of one's own life
    # more than of the map or of others; a newcomer is told about the town.
    remark = not _is_question(heard) and any(s.theirs for s in sentences)
    nudge = 0.08 if about_you else 0.04 if remark else 0.0
    for i, sentence in enumerate(sentences):
        found[i] += (nudge if sentence.own else 0.0) - (0.15 if sentence.theirs else 0.0)
        found[i] -= 0.06 if remark and sentence.topic in _MAP else 0.0
        talked_of = (gossiped or Counter())[sentence.subject] if sentence.subject else 0
        if sentence.topic in _MAP:
            talked_of = sum(n for t, n in (gossiped or Counter()).items() if t in _MAP)
        found[i] -= 0.25 * talked_of if remark else 0.0
        found[i] -= 0.08 if sentence.memory else 0.0  # "I remember ..." lines look alike
    order = sorted(range(len(sentences)), key=lambda i: (-found[i], i))
    if not order:
        return [], None, False, []
    floor = ON_TOPIC if semantic(embedder) else 0.0
    top = order[0]
    fresh = [found[i] for i in order if not said[i]]
    # Shared words are a coarse score: there a fresh sentence sharing a word is still
    # beside the point if the answer given shares twice as many.
    beside = floor if semantic(embedder) else 0.5 * found[top]
    stale = said[top] and found[top] > floor and (not fresh or fresh[0] <= beside)
    lost = found[top] <= (OFF_TOPIC if semantic(embedder) else 0.0)
    near = [sentences[i] for i in order if found[i] > floor]
    return [sentences[i] for i in order], sentences[top] if stale else None, lost, near


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

    async def compose(
        self,
        kind: str,
        me: Persona,
        other: Persona,
        transcript: Transcript,
        seed: str,
        memories: Sequence[str] = (),
        embedder: Embedder | None = None,
    ) -> str:
        rng = random.Random(f"offline:{seed}:{len(transcript)}")
        name = other.get("name", "") or "friend"
        heard = next((t for a, t in reversed(transcript) if a != me.get("name")), "")
        if kind == "start" or not heard:
            lines = self._opening(me, other, memories, rng)
        elif kind == "leave":
            lines = self._leaving(rng)
        else:
            sentences = _sentences(me, other, memories, _is_question(heard))
            sentences = _recalling(sentences, heard, [t for _, t in transcript])
            fresh = [s for s in sentences if not _said(s, transcript)]
            about_me = bool(_ASKED_ABOUT_ME.search(heard))
            heard = _ASKED_BACK.sub("", _ASKED_ABOUT_ME.sub("", heard)) or heard
            mine = [s for s in fresh if s.own]
            about_me = about_me and bool(mine)  # with nothing left to say of oneself: talk on
            if about_me:
                fresh = mine
            stale = [not any(s is f for f in fresh) for s in sentences]
            mine_said = [(a, t) for a, t in transcript if a == me.get("name")]
            gossiped = Counter(
                x.subject or x.topic  # a neighbour, or (for the map) the place itself
                for x in sentences
                if not x.own and not x.theirs and not x.memory and _said(x, transcript)
            )
            speaker = base_name(me.get("name", ""))
            ranked, best, lost, near = await _ranked(
                heard, sentences, stale, embedder, speaker, gossiped
            )
            ranked = [s for s in ranked if any(s is f for f in fresh)]
            told = ""  # asked again what I answered already, with nothing new: say so
            if best is not None and not best.own:
                told = best.topic if _said(best, mine_said) else ""
            unsure = lost and _is_question(heard) and not about_me
            again = best if told else None
            my_lines = [t for a, t in transcript if a == me.get("name")]
            asked_of = [s for s in sentences if s.theirs and _asked_about(s, my_lines)]
            if any(_asked_about(s, my_lines[-1:]) for s in sentences if s.theirs):
                asked_of = [s for s in sentences if s.theirs]  # asked last time: not again
            lines = self._replying(
                heard, ranked, sentences, rng, about_me, again, unsure, near, asked_of
            )
        said = {text.strip() for _, text in transcript}
        for line in lines:
            line = line.format(other=name)
            if line not in said:
                return line
        for n in range(len(transcript) + 1):  # every line said already: count on
            line = f"Where was I? Oh yes, story number {n + 1}, {name}."
            if line not in said:
                return line
        raise AssertionError("unreachable: one of the numbered lines is new")

    def _opening(
        self, me: Persona, other: Persona, memories: Sequence[str], rng: random.Random
    ) -> Iterator[str]:
        plan = _first_person(me.get("plan", ""))
        openers = rng.sample(_OPENERS, len(_OPENERS))
        if memories and rng.random() < 0.6:
            memory = _recalled(memories[0], other.get("name", ""))
            yield rng.choice(_REMEMBERING).replace("{memory}", _braced(memory))
        for opener in openers:
            yield _joined(opener, _braced(plan))
        yield from self._leaving(rng)

    def _leaving(self, rng: random.Random) -> Iterator[str]:
        yield from rng.sample(_GOODBYES, len(_GOODBYES))
        for goodbye in _GOODBYES:
            for filler in _FILLERS:
                yield _joined(filler, goodbye)

    def _replying(
        self,
        heard: str,
        ranked: Sequence[_Sentence],
        sentences: Sequence[_Sentence],
        rng: random.Random,
        about_me: bool = False,
        told: _Sentence | None = None,
        unsure: bool = False,
        near: Sequence[_Sentence] = (),
        asked_of: Sequence[_Sentence] = (),
    ) -> Iterator[str]:
        asked = _is_question(heard)
        to_me = asked and bool(re.search(r"\byou\b", heard, re.IGNORECASE))
        if unsure:  # nothing known bears on the question: say so, not something beside it
            yield from rng.sample(_UNSURE, len(_UNSURE))
        if told is not None and not about_me:  # the answer is said already: once more, short
            for again in rng.sample(_TOLD_AGAIN, len(_TOLD_AGAIN)):
                yield _joined(again, _braced(told.text))
            for line in rng.sample(_TOLD, len(_TOLD)):
                yield line.replace("{topic}", _braced(told.topic))
        top = ranked[0] if ranked else None
        if top is not None and not asked and not top.own and not any(top is n for n in near):
            # Nothing of mine bears on it: rather than gossip beside the point, ask them
            # about their own news.
            for sentence in [s for s in ranked if s.theirs and s.topic and s not in asked_of][:1]:
                for question in rng.sample(_ASKING_ABOUT, len(_ASKING_ABOUT)):
                    yield question.replace("{topic}", _braced(_yours(sentence.topic)))
        for sentence in ranked[:3]:
            if sentence.theirs and sentence.topic:  # their own news: ask them, not tell them
                if sentence in asked_of:
                    continue
                for question in rng.sample(_ASKING_ABOUT, len(_ASKING_ABOUT)):
                    yield question.replace("{topic}", _braced(_yours(sentence.topic)))
                continue
            drifting = not asked and not any(sentence is n for n in near)
            prefixes = (
                _SHIFTING
                if drifting
                else _ABOUT_ME
                if about_me
                else _OF_MYSELF
                if asked and sentence.own and to_me
                else _OF_MYSELF[:-1]
                if asked and sentence.own
                else _ANSWERING
                if asked
                else _REACTING
            )
            echo = _echo(heard, sentence) if asked and not sentence.own else ""
            shapes = rng.sample(prefixes, len(prefixes))
            if echo and rng.random() < 0.6:
                shapes.insert(0, echo)
            backs = _ASKING_BACK_ME if sentence.own else _ASKING_BACK
            for prefix in shapes:
                back = "" if asked and rng.random() < 0.7 else rng.choice(backs)
                yield _joined(prefix, _braced(sentence.text), back)
        yield from rng.sample(_FILLERS, len(_FILLERS))
        for sentence in sentences:  # all said: the same content in a new shape
            for prefix in _REACTING + _ANSWERING:
                for back in _ASKING_BACK:
                    yield _joined(prefix, _braced(sentence.text), back)

    def remember(self, other: str, transcript: Transcript) -> str:
        return remember(other, transcript)

    def plan(self, me: Persona, places: Sequence[str], minute: int, seed: str) -> str:
        return plan_text(me, places, minute, seed)

    def plan_steps(self, activity: str, seed: str) -> str:
        return steps_text(activity, seed)

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
