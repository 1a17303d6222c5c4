"""What a line in a group conversation tells the engine about whose turn is next: who it
names, and how much each other participant has to add to it.

The engine picks a group's next speaker deterministically from these hints
(``engine/conversations.py: next_speaker``); they are worked out here, when the line is
written, from words alone: a name said in the line addresses its bearer; the line's
words that a participant's recent memories, identity or plan share are what they have to
add. Two people need no hints (they take turns), so none are written for them.
"""

from __future__ import annotations

import re
from typing import Any

from smalltown.store import Transaction
from smalltown.worlds.parts import read_entry
from smalltown.worlds.people import person

MEMORIES_CONSULTED = 20  # a participant's most recently used memories, searched for words
WORDS_PER_POINT = 3  # shared words that make one point of relevance
_WORD = re.compile(r"[a-z][a-z'-]{3,}")
_COMMON = frozenset(
    [
        "about",
        "after",
        "again",
        "also",
        "been",
        "before",
        "could",
        "from",
        "have",
        "just",
        "know",
        "like",
        "more",
        "much",
        "only",
        "over",
        "really",
        "said",
        "some",
        "than",
        "that",
        "them",
        "then",
        "there",
        "they",
        "this",
        "very",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "would",
        "your",
        "yours",
        "today",
        "tomorrow",
        "here",
    ]
)


def words(text: str) -> set[str]:
    """The line's telling words: four letters or more, lower case, common ones left out."""
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON}


def names_in(text: str, names: dict[str, str]) -> list[str]:
    """The player ids whose name (or first name) the text says, as a word."""
    lowered = text.lower()
    found = []
    for player_id, name in names.items():
        first = name.split()[0] if name.split() else name
        if any(re.search(rf"\b{re.escape(n.lower())}\b", lowered) for n in {name, first} if n):
            found.append(player_id)
    return found


async def turn_hints(
    db: Transaction, world_id: str, conversation_id: str, author: str, text: str
) -> dict[str, Any]:
    """``addressed`` and ``relevance`` for the engine's ``finishSendingMessage``; empty
    outside a group."""
    conversation = await read_entry(db, world_id, "conversations", conversation_id)
    if conversation is None or len(conversation["participants"]) <= 2:
        return {}
    others = [p["playerId"] for p in conversation["participants"] if p["playerId"] != author]
    people = {p: await person(db, world_id, p) for p in others}
    names = {p: "" if who["name"] == p else who["name"] for p, who in people.items()}
    said = words(text)
    relevance = []
    for player_id in others:
        known = f"{people[player_id]['identity']} {people[player_id]['plan']}"
        memories = await db.query(
            "memories",
            "playerId",
            eq={"playerId": player_id},
            order="desc",
            limit=MEMORIES_CONSULTED,
        )
        known += " " + " ".join(str(m["description"]) for m in memories)
        shared = len(said & words(known))
        relevance.append([player_id, shared / WORDS_PER_POINT])
    return {"addressed": names_in(text, names), "relevance": relevance}
