from smalltown.llm.offline import OfflineBrain, _first_person

ME = {
    "name": "Tobias",
    "identity": "Tobias runs the bakery. He laughs.",
    "plan": "You want everyone to taste your rye loaf.",
}
OTHER = {"name": "Wren"}


def test_plans_are_said_in_the_first_person():
    assert _first_person("You want everyone to taste your rye loaf.") == (
        "I want everyone to taste my rye loaf."
    )


def test_lines_name_the_other_and_follow_the_kind():
    brain = OfflineBrain()
    opening = brain.compose("start", ME, OTHER, [], "seed")
    assert "Wren" in opening and "rye loaf" in opening
    goodbye = brain.compose("leave", ME, OTHER, [("Wren", "hi")], "seed")
    assert "Wren" in goodbye
    replies = {
        brain.compose("continue", ME, OTHER, [("Wren", "hi")] * n, f"s{n}") for n in range(1, 12)
    }
    assert len(replies) > 2 and all("{" not in r for r in replies)


def test_same_seed_same_line():
    brain = OfflineBrain()
    assert brain.compose("continue", ME, OTHER, [("Wren", "x")], "m1") == brain.compose(
        "continue", ME, OTHER, [("Wren", "x")], "m1"
    )


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


def test_the_offline_brain_brings_up_what_it_remembers():
    from smalltown.llm.offline import OfflineBrain, remember

    memory = remember("Ada", [("Ada", "The blue flower grows by the pond."), ("Ingrid", "Oh!")])
    assert memory == "I talked with Ada, who said: “The blue flower grows by the pond.”"
    brain = OfflineBrain()
    me = {"name": "Ingrid", "identity": "Ingrid is a botanist.", "plan": "You want a flower."}
    line = brain.compose("start", me, {"name": "Ada"}, [], "seed-1", [memory])
    assert "talking with you, who said: “The blue flower grows by the pond.”" in line
    assert "Ada" in line  # greeted by name; the memory speaks of "you"
    # Without memories, the same call composes from the plan alone.
    plain = brain.compose("start", me, {"name": "Ada"}, [], "seed-1")
    assert "I want a flower." in plain and "remember" not in plain


def test_a_long_memory_is_cut_at_a_word():
    from smalltown.llm.offline import _recalled

    text = _recalled("I talked with Bo, who said: “" + "word " * 60 + "”", "Bo")
    assert len(text) <= 140 and text.endswith("…") and "Bo" not in text


async def test_the_offline_brain_is_an_llm_whose_talk_comes_from_its_composer():
    import pytest

    from smalltown.llm import LLMUnavailable

    brain = OfflineBrain()
    assert brain.composer is brain and brain.usage is None
    assert brain.cost().usd == 0.0 and brain.cost().basis.startswith("offline")
    assert brain.composer.remember("Ada", [("Ada", "hello")]) == (
        "I talked with Ada, who said: “hello”"
    )
    with pytest.raises(LLMUnavailable, match="OPENAI_API_KEY"):  # no model to ask: the fix
        await brain.chat([{"role": "user", "content": "hi"}])
    await brain.close()
