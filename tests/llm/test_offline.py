"""The offline brain: replies that answer the last line, no repeats, no template seams,
plain memories; deterministic for a seed."""

import re

import pytest

from smalltown.bench.brain_bench import NEWCOMER, conversations, measure, residents
from smalltown.llm.hashed_embeddings import HashedEmbedder
from smalltown.llm.minilm import MiniLMEmbedder
from smalltown.llm.offline import OfflineBrain, _first_person, remember
from smalltown.llm.offline_seams import seams

ME = {
    "name": "Tobias",
    "identity": "Tobias runs the bakery. He laughs.",
    "plan": "You want everyone to taste your rye loaf.",
}
OTHER = {"name": "Wren"}

#: ``smalltown bench brain`` on the held-out script measured a mean cosine of 0.155 for the
#: template brain before replies looked at the line heard, and 0.39 (MiniLM) / 0.36 (words)
#: after; 0.30 sits clear of the old figure with room for the facts to change.
RELEVANCE = 0.30
#: the share of replies at cosine 0.3 or more: 10% before, 74% / 66% after
ON_TOPIC = 0.5


def test_plans_are_said_in_the_first_person():
    assert _first_person("You want everyone to taste your rye loaf.") == (
        "I want everyone to taste my rye loaf."
    )


async def test_lines_name_the_other_and_follow_the_kind():
    brain = OfflineBrain()
    opening = await brain.compose("start", ME, OTHER, [], "seed")
    assert "Wren" in opening and "rye loaf" in opening
    goodbye = await brain.compose("leave", ME, OTHER, [("Wren", "hi")], "seed")
    assert "Wren" in goodbye
    replies = {
        await brain.compose("continue", ME, OTHER, [("Wren", "hi")] * n, f"s{n}")
        for n in range(1, 12)
    }
    assert len(replies) > 2 and all("{" not in r for r in replies)


async def test_same_seed_same_line():
    brain, embedder = OfflineBrain(), MiniLMEmbedder()
    for used in (None, embedder):
        first = await brain.compose("continue", ME, OTHER, [("Wren", "x?")], "m1", embedder=used)
        again = await OfflineBrain().compose(
            "continue", ME, OTHER, [("Wren", "x?")], "m1", embedder=used
        )
        assert first == again


def test_pronouns_follow_who_does_what():
    assert _first_person("You want help finding the flower you saw near the pond.") == (
        "I want help finding the flower I saw near the pond."
    )
    assert _first_person("You want a story from each neighbour for you.") == (
        "I want a story from each neighbour for me."
    )


def test_identity_becomes_one_first_person_clause():
    from smalltown.llm.offline import _about

    assert _about("Wren is eleven and publishes the town's newspaper. Wren asks.", "Wren") == (
        "I am eleven."
    )


def test_the_verb_agrees_with_i():
    from smalltown.llm.offline import _about

    assert _about("Kofi plays guitar on the square.", "Kofi") == "I play guitar on the square."
    assert _about("Zed carries bags, always.", "Zed") == "I carry bags."
    assert _about("Zed watches the sea.", "Zed") == "I watch the sea."
    assert _about("Zed has a cat.", "Zed") == "I have a cat."
    assert _about("Zed kept bees.", "Zed") == "I kept bees."


async def test_the_offline_brain_brings_up_what_it_remembers():
    memory = remember("Ada", [("Ada", "Where does the blue flower grow?"), ("Ingrid", "Oh!")])
    assert memory == "Ada asked me about the blue flower by the pond."
    brain = OfflineBrain()
    me = {"name": "Ingrid", "identity": "Ingrid is a botanist.", "plan": "You want a flower."}
    lines = {
        await brain.compose("start", me, {"name": "Ada"}, [], f"seed-{n}", [memory])
        for n in range(8)
    }
    recalled = [line for line in lines if "you asked me about the blue flower" in line]
    assert recalled and all("Ada" in line for line in recalled)  # by name; the memory: "you"
    # Without memories, the same call composes from the plan alone.
    plain = await brain.compose("start", me, {"name": "Ada"}, [], "seed-1")
    assert "I want a flower." in plain and "remember" not in plain


def test_a_long_memory_is_cut_at_a_word():
    from smalltown.llm.offline import _recalled

    text = _recalled("I talked with Bo about " + "things and " * 30 + "more.", "Bo")
    assert len(text) <= 140 and text.endswith("…") and "Bo" not in text


def test_memories_are_plain_sentences_without_nested_quotes():
    from smalltown.llm.offline import _recalled

    old = "I talked with Ada, who said: “I talked with Bo, who said: “hi””"
    talk = [("Ada", old), ("Ingrid", "Tobias bakes bread at the bakery."), ("Ada", "Bread?")]
    memory = remember("Ada", talk)
    assert memory == "Ada asked me about the bakery."
    talk += [("Ada", "And who kept the lighthouse?")]
    assert remember("Ada", talk) == (
        "Ada asked me about the bakery. We also talked about the lighthouse."
    )
    assert _recalled("Kofi asked me about Kofi's song.", "Kofi") == "you asked me about your song."
    assert not seams(memory) and "“" not in memory
    assert remember("Ada", [("Ada", "hello")]) == "I talked with Ada."
    assert _recalled(old, "Ada") == "talking with you."  # an older memory's quote left out


async def test_questions_get_answers_from_the_towns_facts():
    brain, embedder = OfflineBrain(), MiniLMEmbedder()
    for used in (embedder, HashedEmbedder(), None):
        for person in residents():
            said = [("Newbie", "Where can I get good bread?")]
            line = await brain.compose("continue", person, NEWCOMER, said, "q", embedder=used)
            assert "bakery" in line, (used, line)
    said = [("Newbie", "Who used to look after the lighthouse?")]
    line = await brain.compose("continue", residents()[1], NEWCOMER, said, "q", embedder=embedder)
    assert "Marisol kept the harbour lighthouse" in line


async def test_replies_are_relevant_to_held_out_lines():
    judge = MiniLMEmbedder()
    script = conversations()
    assert sum(len(block) for block in script) >= 30
    for embedder in (judge, HashedEmbedder()):
        figures = await measure(OfflineBrain(), judge, embedder, script, long=0)
        mean = sum(figures.relevance) / len(figures.relevance)
        share = sum(r >= 0.3 for r in figures.relevance) / len(figures.relevance)
        assert mean >= RELEVANCE and share >= ON_TOPIC, (embedder, mean, share)
        assert figures.repeats == 0 and figures.seams == []


@pytest.mark.parametrize("seed", ["a", "b", "c"])
async def test_long_talks_never_repeat_a_line_or_show_a_seam(seed):
    judge = MiniLMEmbedder()
    figures = await measure(OfflineBrain(), judge, HashedEmbedder(), [], long=60, seed=seed)
    assert figures.conversations == 20 and figures.lines == 20 * 60
    assert figures.repeats == 0
    assert figures.seams == []


def test_the_seam_checker_finds_the_slips_templates_make():
    assert seams("I hadn't thought of that. Anyway, i want a scoop.") == ["lowercase i"]
    assert "I with a third-person verb" in seams("You know, I plays guitar.")
    assert "doubled punctuation" in seams("I am eleven..")
    assert "lowercase after a full stop" in seams("Hi. you there.")
    assert "nested quotes" in seams("Ada said: “Bo said: “hi” to me”.")
    assert "unfilled template" in seams("Hi {other}.")
    assert seams("I was glad. I always guess right, and I miss you.") == []


async def test_the_offline_brain_is_an_llm_whose_talk_comes_from_its_composer():
    from smalltown.llm import LLMUnavailable

    brain = OfflineBrain()
    assert brain.composer is brain and brain.usage is None
    assert brain.cost().usd == 0.0 and brain.cost().basis.startswith("offline")
    assert brain.composer.remember("Ada", [("Ada", "hello")]) == "I talked with Ada."
    with pytest.raises(LLMUnavailable, match="OPENAI_API_KEY"):  # no model to ask: the fix
        await brain.chat([{"role": "user", "content": "hi"}])
    await brain.close()


async def test_an_answer_given_is_not_replaced_by_something_beside_the_point():
    brain, embedder = OfflineBrain(), MiniLMEmbedder()
    marisol = residents()[0]
    talk = [("Newbie", "Where can I get good bread?")]
    answer = await brain.compose("continue", marisol, NEWCOMER, talk, "a", embedder=embedder)
    talk += [("Marisol", answer), ("Newbie", "Where can I get good bread, again?")]
    again = await brain.compose("continue", marisol, NEWCOMER, talk, "b", embedder=embedder)
    assert "bakery" in answer and again != answer
    assert any(word in again for word in ("bakery", "loaf", "sourdough")), again
    # Asked on, the bakery's facts run out: then "I've told you", not a stray fact.
    talk.append(("Marisol", again))
    for n in range(4):
        talk.append(("Newbie", "What else about the bakery?"))
        more = await brain.compose("continue", marisol, NEWCOMER, talk, f"d{n}", embedder=embedder)
        assert any(word in more for word in ("bakery", "loaf", "sourdough")), more
        talk.append(("Marisol", more))
    assert "know" in more and more not in [text for _, text in talk[:-1]]
    # Nothing known bears on it (shared words only): an honest "I don't know".
    odd = [("Newbie", "Where can I go swimming?")]
    line = await brain.compose("continue", marisol, NEWCOMER, odd, "c", embedder=None)
    assert any(word in line for word in ("know", "sure", "couldn't tell")), line


def test_every_resident_has_facts_of_their_own_in_three_voices():
    from smalltown.llm.offline_facts import FACTS
    from smalltown.town.defaults import RESIDENTS

    assert len(RESIDENTS) == 12
    for resident in RESIDENTS:
        own = [f for f in FACTS if f.subject == resident["name"]]
        assert len(own) >= 3, resident["name"]
        assert all(f.mine and f.yours and f.topic for f in own), resident["name"]
        assert all(resident["name"] not in f.mine for f in own), resident["name"]


async def test_questions_about_the_neighbours_are_answered_from_their_facts():
    brain, embedder = OfflineBrain(), MiniLMEmbedder()
    asked = {
        "Where can I buy a jar of honey?": "Greta",
        "Who could mend my bicycle?": "Lucho",
        "Is there somewhere to borrow books?": "library",
        "Is there a taxi in town?": "Petra",
    }
    for question, answer in asked.items():
        said = [("Newbie", question)]
        line = await brain.compose("continue", ME, NEWCOMER, said, "n", embedder=embedder)
        assert answer in line, (question, line)


async def test_a_resident_asks_after_the_listeners_news_rather_than_telling_it_to_them():
    brain, embedder = OfflineBrain(), MiniLMEmbedder()
    marisol, tobias = residents()[0], residents()[1]
    opener = await brain.compose("start", marisol, tobias, [], "o", embedder=embedder)
    talk = [("Marisol", opener)]
    reply = await brain.compose("continue", tobias, marisol, talk, "r", embedder=embedder)
    assert "your doorstep" in reply and reply.endswith("?"), reply
    assert "you want to know who" not in reply
    # Asked, she answers of herself; asked again, he does not ask the same.
    talk.append(("Tobias", reply))
    answer = await brain.compose("continue", marisol, tobias, talk, "a", embedder=embedder)
    assert "my doorstep" in answer, answer


def test_a_memory_of_ones_own_topic_says_my():
    talk = [("Marisol", "Hi Ada."), ("Ada", "Who leaves the shells on the doorstep?")]
    assert remember("Ada", talk) == "Ada asked me about the shells on my doorstep."


async def test_one_memory_a_talk_and_not_the_one_just_heard():
    brain, embedder = OfflineBrain(), MiniLMEmbedder()
    ingrid, tobias = residents()[2], residents()[1]
    memory = "Marisol asked me about the shells on Marisol's doorstep."
    heard = "Tobias! I was just remembering Marisol asked me about the shells on her doorstep."
    for n in range(6):  # both talked with Marisol of the same: he does not say it back
        reply = await brain.compose(
            "continue", tobias, ingrid, [("Ingrid", heard)], f"m{n}", [memory], embedder
        )
        assert "I remember" not in reply and "I was just remembering" not in reply, reply
    talk = [("Ingrid", "Hello!"), ("Tobias", "I remember talking with you about the pond.")]
    talk.append(("Ingrid", "What do you remember about Marisol?"))
    again = await brain.compose("continue", tobias, ingrid, talk, "r", [memory], embedder)
    assert "I remember" not in again, again  # one recalled already in this talk
    talk[1] = ("Ingrid", "I remember talking with you about the pond.")
    again = await brain.compose("continue", tobias, ingrid, talk, "s", [memory], embedder)
    assert "I remember" not in again, again  # by either of them


async def test_neighbours_talk_of_their_lives_not_a_list_of_someone_else_or_the_map():
    from smalltown.town.defaults import RESIDENTS

    brain, embedder = OfflineBrain(), MiniLMEmbedder()
    people = [
        {"name": r["name"], "description": "", "identity": r["identity"], "plan": r["plan"]}
        for r in RESIDENTS
    ]
    names = [p["name"] for p in people]
    places = ("The square is", "The main street runs", "The pond lies", "There is a garden")
    for n in range(len(people)):
        first, second = people[n], people[(n + 1) % len(people)]
        talk: list[tuple[str, str]] = []
        for i in range(10):
            me, other = (first, second) if i % 2 == 0 else (second, first)
            kind = "start" if i == 0 else "continue"
            line = await brain.compose(kind, me, other, list(talk), f"g{n}:{i}", [], embedder)
            talk.append((me["name"], line))
        lines = [text for _, text in talk]
        for name in set(names) - {first["name"], second["name"]}:
            about = [text for text in lines if re.search(rf"\b{name}\b", text)]
            assert len(about) <= 2, (name, lines)
        assert sum(any(p.lower() in t.lower() for p in places) for t in lines) <= 1, lines


def test_handing_the_talk_back_is_not_asking_about_what_came_before():
    talk = [
        ("Tobias", "How is it going with your song, Kofi?"),
        ("Kofi", "I am writing a song about the town. What about you, Tobias?"),
    ]
    assert remember("Kofi", talk) == "I talked with Kofi about Kofi's song."
    talk.append(("Kofi", "Oh, and where is the bakery?"))
    assert remember("Kofi", talk).startswith("Kofi asked me about the bakery.")


def test_a_topic_inside_a_wider_one_is_not_remembered_twice():
    talk = [("Kofi", "Someone keeps moving Bram's fishing stool."), ("Ingrid", "Oh!")]
    assert remember("Kofi", talk) == "I talked with Kofi about Bram's fishing stool."


def test_news_heard_is_remembered_as_told_by_whoever_told_it():
    told = "Good to see you again, Tobias. I remember Kofi told me about a party at the well."
    assert remember("Marisol", [("Marisol", told), ("Tobias", "How lovely.")]) == (
        "Marisol told me about a party at the well."
    )
    # In a group, the teller by name; the listener's own retelling is not news to them.
    group = [("Tobias", "Kofi told me about a party at five."), ("Ingrid", "Oh?")]
    assert remember("Ingrid and Wren", group).startswith("I talked with Ingrid and Wren")
    assert remember("Tobias and Ingrid", group) == "Tobias told me about a party at five."
