"""A checker for the seams templates leave in the offline brain's own lines.

Regular expressions are enough here because the text checked is ours: lines the offline
brain composed from its templates and facts. Each rule names one slip ("I plays", "Anyway,
i want", "..", nested quotes), so tests and ``smalltown bench brain`` can count them.
"""

from __future__ import annotations

import re

#: words ending in s that follow "I" correctly
_S_WORDS = "was|always|guess|miss|pass|kiss|discuss|focus|confess|bless|cross|press|also|thus"

RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("lowercase i", re.compile(r"(?<![\w'’-])i(?![\w'’.-])")),
    ("I with a third-person verb", re.compile(rf"\bI (?!(?:{_S_WORDS})\b)[a-z]+[^s\W]s\b")),
    ("I is / I has / I are", re.compile(r"\bI (?:is|has|are|does|goes)\b")),
    ("you with am/is/was/has", re.compile(r"\b[Yy]ou (?:am|is|was|has|does)\b")),
    ("lowercase start", re.compile(r"^[\W_]*[a-z]")),
    ("lowercase after a full stop", re.compile(r"[.!?]\s+[\"“]?[a-z]")),
    ("doubled punctuation", re.compile(r"(?<!\.)\.\.(?!\.)|[,;:][.,;:!?]|[.!?][,;:]|\?\?|!!")),
    ("space before punctuation", re.compile(r"\s[.,;:!?]")),
    ("double space", re.compile(r"\S  +\S")),
    ("unfilled template", re.compile(r"[{}]")),
    ("nested quotes", re.compile(r"[“\"][^”\"]*[“][^”]*”")),
    ("no closing punctuation", re.compile(r"[^.!?…”\"]\s*$")),
    ("doubled word", re.compile(r"\b(\w+) \1\b", re.IGNORECASE)),
    ("a before a vowel", re.compile(r"\b[Aa] [aeio]\w")),
)


def seams(line: str) -> list[str]:
    """The names of the rules ``line`` breaks (empty: it reads cleanly)."""
    return [name for name, pattern in RULES if pattern.search(line)]
