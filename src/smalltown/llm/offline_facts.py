"""What the offline brain knows of the default town: its places and who lives or works where.

The facts agree with ``town/defaults.py`` (its twelve residents, where each lives or works,
what they do and like, and its map: the main and cross streets, the square with its
fountain and market stalls, the pond, six houses, the garden fence, the benches).
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
    _about(
        "Tobias",
        "Tobias likes a quiet bench by the pond after the morning bake.",
        "I like a quiet bench by the pond after the morning bake.",
        "You like a quiet bench by the pond after the morning bake.",
        "Tobias's bench",
        "bench rest pond bake",
    ),
    _about(
        "Marisol",
        "Marisol lives in the house at the top left of town, nearest the sea road.",
        "I live in the house at the top left of town, nearest the sea road.",
        "You live in the house at the top left of town, nearest the sea road.",
        "Marisol's house",
        "home house sea road",
    ),
    _about(
        "Ingrid",
        "Ingrid likes the long grass by the copse, where the moths come out at dusk.",
        "I like the long grass by the copse, where the moths come out at dusk.",
        "You like the long grass by the copse, where the moths come out at dusk.",
        "the long grass",
        "grass copse moths dusk",
    ),
    _about(
        "Kofi",
        "Kofi likes an audience, and his favourite spot is the bench by the fountain.",
        "I like an audience, and my favourite spot is the bench by the fountain.",
        "You like an audience, and your favourite spot is the bench by the fountain.",
        "Kofi's bench",
        "audience bench fountain",
    ),
    _about(
        "Wren",
        "Wren hands the newspaper out by the market stalls every Friday after school.",
        "I hand the newspaper out by the market stalls every Friday after school.",
        "You hand the newspaper out by the market stalls every Friday after school.",
        "Wren's stall",
        "newspaper copy stalls friday",
    ),
    _about(
        "Anselm",
        "Anselm mends clocks and watches in a shop no wider than a door on the main street.",
        "I mend clocks and watches in a shop no wider than a door on the main street.",
        "You mend clocks and watches in a shop no wider than a door on the main street.",
        "the clock shop",
        "clock clocks watch watches mend fix repair shop tick",
    ),
    _about(
        "Anselm",
        "Anselm is trying to learn why the church clock stopped at ten past four.",
        "I am trying to learn why the church clock stopped at ten past four.",
        "You are trying to learn why the church clock stopped at ten past four.",
        "the church clock",
        "church clock stopped tower broken",
    ),
    _about(
        "Anselm",
        "Anselm is secretly delighted whenever a clock runs a little fast.",
        "I am secretly delighted whenever a clock runs a little fast.",
        "You are secretly delighted whenever a clock runs a little fast.",
        "fast clocks",
        "clock fast slow secret",
    ),
    _about(
        "Petra",
        "Petra drives the town's only taxi and knows everyone's errands.",
        "I drive the town's only taxi and know everyone's errands.",
        "You drive the town's only taxi and know everyone's errands.",
        "the taxi",
        "taxi car drive driver ride lift station errands",
    ),
    _about(
        "Petra",
        "Petra keeps a notebook of the best shortcuts across town.",
        "I keep a notebook of the best shortcuts across town.",
        "You keep a notebook of the best shortcuts across town.",
        "the shortcuts",
        "shortcut shortcuts quickest route notebook",
    ),
    _about(
        "Petra",
        "Petra needs a new set of tyres and wants someone to split the cost.",
        "I need a new set of tyres and want someone to split the cost.",
        "You need a new set of tyres and want someone to split the cost.",
        "the taxi's tyres",
        "tyre tyres tire cost expensive split",
    ),
    _about(
        "Yusuf",
        "Yusuf is the new schoolteacher, three weeks in town.",
        "I am the new schoolteacher, three weeks in town.",
        "You are the new schoolteacher, three weeks in town.",
        "the school",
        "school teacher teaches children class lessons pupils",
    ),
    _about(
        "Yusuf",
        "Yusuf is looking for volunteers for the school's spring play.",
        "I am looking for volunteers for the school's spring play.",
        "You are looking for volunteers for the school's spring play.",
        "the spring play",
        "play theatre stage volunteer act costume",
    ),
    _about(
        "Yusuf",
        "Yusuf tries to learn one new name every day.",
        "I try to learn one new name every day.",
        "You try to learn one new name every day.",
        "names",
        "name names learn",
    ),
    _about(
        "Greta",
        "Greta keeps bees behind the pond and sells honey by the jar.",
        "I keep bees behind the pond and sell honey by the jar.",
        "You keep bees behind the pond and sell honey by the jar.",
        "the honey",
        "honey bees bee hive hives beehive beehives jar buy sweet",
    ),
    _about(
        "Greta",
        "Greta can tell the weather from the hum of her hives.",
        "I can tell the weather from the hum of my hives.",
        "You can tell the weather from the hum of your hives.",
        "the weather",
        "weather rain sunny forecast hum hives",
    ),
    _about(
        "Greta",
        "Greta warns that a swarm of bees may settle on the square this week.",
        "I think a swarm of bees may settle on the square this week, so watch out.",
        "You think a swarm of bees may settle on the square this week.",
        "the swarm",
        "swarm bees afraid sting danger warn square",
    ),
    _about(
        "Lucho",
        "Lucho repairs bicycles and never says no to a puncture.",
        "I repair bicycles and never say no to a puncture.",
        "You repair bicycles and never say no to a puncture.",
        "the bicycles",
        "bicycle bike bikes repair mend fix puncture tyre flat wheel",
    ),
    _about(
        "Lucho",
        "Lucho rides a bicycle with a sidecar for his old dog.",
        "I ride a bicycle with a sidecar for my old dog.",
        "You ride a bicycle with a sidecar for your old dog.",
        "Lucho's dog",
        "dog sidecar ride old pet",
    ),
    _about(
        "Lucho",
        "Lucho is organising a bicycle race around the pond on Sunday.",
        "I am organising a bicycle race around the pond on Sunday.",
        "You are organising a bicycle race around the pond on Sunday.",
        "the bicycle race",
        "race racing sunday bicycle",
    ),
    _about(
        "Odile",
        "Odile runs the lending library in the house nearest the square.",
        "I run the lending library in the house nearest the square.",
        "You run the lending library in the house nearest the square.",
        "the library",
        "library books book borrow lend read reading maps atlas",
    ),
    _about(
        "Odile",
        "Odile was an opera singer before she kept the library.",
        "I was an opera singer before I kept the library.",
        "You were an opera singer before you kept the library.",
        "the opera",
        "opera sing singer singing voice stage music librarian",
    ),
    _about(
        "Odile",
        "Odile fines nobody for late books, but she wants the three overdue atlases back.",
        "I fine nobody for late books, but I want the three overdue atlases back.",
        "You fine nobody for late books, but you want the three overdue atlases back.",
        "the overdue atlases",
        "overdue late fine fined atlas atlases maps return inspector",
    ),
    _about(
        "Bram",
        "Bram fishes the pond at dawn and has never kept a single fish.",
        "I fish the pond at dawn and have never kept a single fish.",
        "You fish the pond at dawn and have never kept a single fish.",
        "the fishing",
        "fish fishing fisherman catch caught rod",
    ),
    _about(
        "Bram",
        "Bram collects odd words the way others collect stamps.",
        "I collect odd words the way others collect stamps.",
        "You collect odd words the way others collect stamps.",
        "odd words",
        "word words strange odd collect stamps language",
    ),
    _about(
        "Bram",
        "Someone keeps moving Bram's fishing stool, and he wants to know who.",
        "Someone keeps moving my fishing stool, and I want to know who.",
        "Someone keeps moving your fishing stool, and you want to know who.",
        "Bram's fishing stool",
        "stool moved moving seat mystery",
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
