"""What the offline brain knows of the default town: its places and who lives or works where.

The facts agree with ``town/defaults.py`` (its five residents and its map: the main and
cross streets, the square with its fountain, the pond, six houses, the garden fence).
Each fact is one plain sentence, written three ways where it is about a resident: as
others say it, as the resident says it ("I ..."), and as said to the resident ("You ...");
so a reply never has to bend a verb to fit its speaker. ``keywords`` are extra words a
fact answers to when there is no semantic embedder (keyword overlap).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    """One thing true in town; ``subject`` names the resident it is about, if one."""

    text: str
    topic: str  # a noun phrase for memories: "the bakery"
    keywords: str = ""
    subject: str = ""
    mine: str = ""  # as the subject says it
    yours: str = ""  # as said to the subject
    asked_only: bool = False  # an answer that makes no sense unless asked ("I am well")

    def said_by(self, speaker: str, listener: str) -> str:
        """The fact as ``speaker`` says it to ``listener``."""
        if self.subject and self.subject == speaker and self.mine:
            return self.mine
        if self.subject and self.subject == listener and self.yours:
            return self.yours
        return self.text


def _about(subject: str, text: str, mine: str, yours: str, topic: str, keywords: str) -> Fact:
    return Fact(text, topic, keywords, subject, mine, yours)


FACTS: tuple[Fact, ...] = (
    _about(
        "Tobias",
        "Tobias bakes the best bread in town at the bakery on the main street.",
        "I bake the best bread in town at the bakery on the main street.",
        "You bake the best bread in town at the bakery on the main street.",
        "the bakery",
        "bread loaf bakery baker buy eat food breakfast hungry shop",
    ),
    _about(
        "Tobias",
        "Tobias tries a new sourdough every week on whoever walks past the bakery.",
        "I try a new sourdough every week on whoever walks past the bakery.",
        "You try a new sourdough every week on whoever walks past the bakery.",
        "the sourdough",
        "sourdough bread taste new recipe",
    ),
    _about(
        "Tobias",
        "Tobias wants everyone to taste his rye loaf before the fair on Saturday.",
        "I want everyone to taste the rye loaf before the fair on Saturday.",
        "You want everyone to taste your rye loaf before the fair on Saturday.",
        "the rye loaf",
        "rye loaf bread taste fair",
    ),
    _about(
        "Marisol",
        "Marisol kept the harbour lighthouse for thirty years.",
        "I kept the harbour lighthouse for thirty years.",
        "You kept the harbour lighthouse for thirty years.",
        "the lighthouse",
        "lighthouse harbour keeper light lamp sea ships boats",
    ),
    _about(
        "Marisol",
        "Marisol collects sea glass along the harbour shore.",
        "I collect sea glass along the harbour shore.",
        "You collect sea glass along the harbour shore.",
        "the sea glass",
        "sea glass beach shore collect harbour",
    ),
    _about(
        "Marisol",
        "Marisol remembers every storm by name.",
        "I remember every storm by name.",
        "You remember every storm by name.",
        "the storms",
        "storm weather wind rain",
    ),
    _about(
        "Marisol",
        "Someone keeps leaving shells on Marisol's doorstep, and she wants to know who.",
        "Someone keeps leaving shells on my doorstep, and I want to know who.",
        "Someone keeps leaving shells on your doorstep, and you want to know who.",
        "the shells on Marisol's doorstep",
        "shells doorstep mystery secret gift",
    ),
    _about(
        "Ingrid",
        "Ingrid is a botanist who catalogues the wildflowers between the cobblestones.",
        "I am a botanist, and I catalogue the wildflowers between the cobblestones.",
        "You are a botanist, and you catalogue the wildflowers between the cobblestones.",
        "the wildflowers",
        "flowers plants botanist wildflowers cobblestones nettles garden",
    ),
    _about(
        "Ingrid",
        "Ingrid once saw a blue flower near the pond and has been looking for it since.",
        "I once saw a blue flower near the pond and have been looking for it since.",
        "You once saw a blue flower near the pond and have been looking for it since.",
        "the blue flower by the pond",
        "blue flower pond search lost find",
    ),
    _about(
        "Ingrid",
        "Ingrid is shy with people but fearless with nettles.",
        "I am shy with people but fearless with nettles.",
        "You are shy with people but fearless with nettles.",
        "nettles",
        "shy nettles quiet",
    ),
    _about(
        "Kofi",
        "Kofi plays guitar on the square most afternoons.",
        "I play guitar on the square most afternoons.",
        "You play guitar on the square most afternoons.",
        "Kofi's guitar",
        "guitar music play square afternoon listen",
    ),
    _about(
        "Kofi",
        "Kofi is writing a song about the town, one resident at a time.",
        "I am writing a song about the town, one resident at a time.",
        "You are writing a song about the town, one resident at a time.",
        "Kofi's song",
        "song music verse write story neighbour",
    ),
    _about(
        "Wren",
        "Wren is eleven and publishes the town's unofficial newspaper by hand.",
        "I am eleven, and I publish the town's unofficial newspaper by hand.",
        "You are eleven, and you publish the town's unofficial newspaper by hand.",
        "the newspaper",
        "newspaper news paper read write front page",
    ),
    _about(
        "Wren",
        "Wren is hunting for a scoop for this week's front page.",
        "I am hunting for a scoop for this week's front page.",
        "You are hunting for a scoop for this week's front page.",
        "the front page",
        "scoop news story front page gossip",
    ),
    Fact(
        "The square is the heart of town, with the fountain in the middle.",
        "the square",
        "square fountain centre middle meet",
    ),
    Fact(
        "The market is held on the square on Saturday mornings, and the fair follows it.",
        "the market",
        "market fair buy sell vegetables stalls saturday shop",
    ),
    Fact(
        "The pond lies south-east of the square, ringed by a sandy shore.",
        "the pond",
        "pond water ducks swim shore",
    ),
    Fact(
        "The main street runs east to west, and the cross street meets it at the square.",
        "the streets",
        "street road way directions get lost walk",
    ),
    Fact(
        "There is a garden behind the fence south-west of the square.",
        "the garden",
        "garden fence vegetables grow",
    ),
    Fact(
        "Six houses stand along the edges of town, near the trees.",
        "the houses",
        "house home live houses neighbour",
    ),
    Fact(
        "The trees ring the whole town, and they are lovely for a walk.",
        "the trees",
        "trees walk woods forest",
    ),
    Fact(
        "I am well, thank you, and glad of the company.",
        "how we are",
        "how feel feeling well today mood happy sad tired fine",
        asked_only=True,
    ),
    Fact(
        "On a quiet day this town is the calmest place I know.",
        "the town",
        "feel feeling today mood happy sad tired calm weather day",
    ),
    Fact(
        "Everyone here says hello, so a newcomer soon knows every face.",
        "the neighbours",
        "new newcomer welcome friends people meet neighbours who",
    ),
)


def base_name(name: str) -> str:
    """``Tobias 2`` (a crowd's copy) is still Tobias as the facts know him."""
    head, _, tail = name.rpartition(" ")
    return head if head and tail.isdigit() else name
