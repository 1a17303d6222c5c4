"""What agents are asked: a line's prompt grows no longer as the talk goes on, memories
and identities go into the first line only, ratings come inside the answers they rate."""

import pytest

from smalltown.agents.prompts import (
    SUMMARY_LINES,
    TRANSCRIPT_WINDOW,
    conversation_messages,
    parse_rated,
    parse_rated_insights,
    persona,
    summary_messages,
)
from smalltown.agents.reflection import NOTABLE, REFLECTION_WINDOW, worth_reflecting_on

MARISOL = {
    "name": "Marisol",
    "identity": "Marisol kept the harbour lighthouse for thirty years. She is patient.",
    "plan": "You want to find out who leaves shells on your doorstep.",
}
TOBIAS = {"name": "Tobias", "identity": "Tobias bakes rye bread at dawn. He hums while he works."}


def talk(lines: int) -> list[tuple[str, str]]:
    """``lines`` lines, Tobias first, each saying which one it is."""
    return [
        (("Tobias", "Marisol")[n % 2], f"line number {n:03d} of the talk") for n in range(lines)
    ]


def text(messages) -> str:
    return "\n".join(m["content"] for m in messages)


def test_the_first_line_knows_both_people_the_plan_and_the_memories():
    first = text(conversation_messages("continue", MARISOL, TOBIAS, talk(1), True, ["rye!"]))
    assert "thirty years" in first and "bakes rye bread" in first  # both personas
    assert "shells on your doorstep" in first and "What you remember:\n- rye!" in first
    assert "She is patient" not in first  # an identity's first sentence only
    assert "line number 000" in first


@pytest.mark.parametrize("lines", [2, 5, 9, 40])
def test_later_lines_carry_only_the_latest_lines(lines):
    prompt = text(conversation_messages("continue", MARISOL, TOBIAS, talk(lines), True, ["x"]))
    kept = [n for n in range(lines) if f"line number {n:03d}" in prompt]
    assert kept == list(range(lines))[-TRANSCRIPT_WINDOW:]
    assert "What you remember" not in prompt and "doorstep" not in prompt
    assert prompt.startswith("You are Marisol; answer Tobias briefly.")


def test_a_line_prompt_stays_the_same_size_however_long_the_talk():
    sizes = {
        len(text(conversation_messages("continue", MARISOL, TOBIAS, talk(n), True)))
        for n in range(4, 40, 2)
    }
    assert len(sizes) == 1  # the lines are all alike: the prompt is bounded
    goodbye = text(conversation_messages("leave", MARISOL, TOBIAS, talk(12), True))
    assert "goodbye" in goodbye


def test_a_persona_is_the_first_sentence_of_an_identity():
    assert persona(TOBIAS) == "Tobias bakes rye bread at dawn."
    assert persona({"name": "Wren", "description": "A quiet painter"}) == "A quiet painter"
    assert persona({"name": "Nobody"}) == ""


def test_a_summary_is_written_from_what_the_other_said():
    asked = text(summary_messages(MARISOL, TOBIAS, talk(6)))
    assert "You just talked with Tobias" in asked and "Importance: " in asked
    assert all(f"line number {n:03d}" in asked for n in (0, 2, 4))
    assert not any(f"line number {n:03d}" in asked for n in (1, 3, 5))
    long = text(summary_messages(MARISOL, TOBIAS, talk(30)))
    theirs = [n for n in range(0, 30, 2) if f"line number {n:03d}" in long]
    # Their first line (where news is told) and their latest ones.
    assert theirs == [0, *list(range(0, 30, 2))[-SUMMARY_LINES:]]
    alone = text(summary_messages(MARISOL, TOBIAS, [("Marisol", "hello there")]))
    assert "Marisol: hello there" in alone  # they said nothing: the whole talk


@pytest.mark.parametrize(
    ("answer", "rest", "importance"),
    [
        ("I met Tobias.\nImportance: 6", "I met Tobias.", 6.0),
        ("I met Tobias. (importance 7)", "I met Tobias.", 7.0),
        ("I met Tobias.\n\nimportance:3.", "I met Tobias.", 3.0),
        ("Importance: 2\nI met Tobias.", "I met Tobias.", 2.0),
        ("I met Tobias, who matters a lot to me.", "I met Tobias, who matters a lot to me.", None),
        ("I met Tobias. Importance: very high", "I met Tobias. Importance: very high", None),
    ],
)
def test_a_rating_inside_an_answer_is_read_and_taken_out(answer, rest, importance):
    assert parse_rated(answer) == (rest, importance)


def test_insights_with_and_without_ratings():
    answer = (
        "1. Bread brings people together (1, 2) Importance: 6\n"
        "2. The fog changes plans (2). [importance: 3]\n"
        "3. I like being asked (9)\n"
        "4. A fourth is one too many (1) Importance: 9"
    )
    assert parse_rated_insights(answer, count=3) == [
        ("Bread brings people together", [1, 2], 6.0),
        ("The fog changes plans", [2], 3.0),
        ("I like being asked", [], None),  # no rating: it gets a call of its own
    ]


def memories(*ratings):
    return [
        {"_id": f"m{n}", "description": f"d{n}", "importance": r} for n, r in enumerate(ratings)
    ]


def test_reflection_is_skipped_when_nothing_mattered_much():
    assert worth_reflecting_on(memories(*[NOTABLE - 1] * 30)) == []
    assert worth_reflecting_on([]) == []


def test_reflection_reads_only_the_latest_memories():
    due = memories(*[3.0] * 30, NOTABLE)
    chosen = worth_reflecting_on(due)
    assert [m["_id"] for m in chosen] == [f"m{n}" for n in range(31 - REFLECTION_WINDOW, 31)]
    # a notable memory that has left the window no longer makes it worth a reflection
    assert worth_reflecting_on(memories(9.0, *[3.0] * REFLECTION_WINDOW)) == []
    # without ratings (an older store), every memory counts as notable
    assert len(worth_reflecting_on([{"_id": "a", "description": "b"}])) == 1


INGRID = {"name": "Ingrid", "identity": "Ingrid mends nets on the quay."}


def test_a_group_line_knows_everyone_and_news_goes_into_a_first_line_only():
    lines = [("Tobias", "Morning, both."), ("Ingrid", "Nets are torn again.")]
    group = text(
        conversation_messages(
            "continue",
            MARISOL,
            INGRID,
            lines,
            True,
            [],
            [INGRID, TOBIAS],
            ["Kofi told me of a party."],
        )
    )
    assert "Ingrid: Ingrid mends nets" in group and "Tobias: Tobias bakes rye" in group
    assert "Answer Ingrid" in group and "Tobias: Morning, both." in group
    assert "saying who told you: Kofi told me of a party." in group
    later = [*lines, ("Marisol", "Oh dear."), ("Tobias", "Indeed.")]
    news = ["Kofi told me of a party."]
    again = text(
        conversation_messages("continue", MARISOL, TOBIAS, later, True, [], [TOBIAS], news)
    )
    assert "News you heard" not in again  # a later line of two is told only the latest lines


def test_a_group_summary_names_everyone_and_keeps_each_first_line():
    lines = [("Ingrid", "Kofi told me about a party at five.")] + [
        (("Tobias", "Ingrid")[n % 2], f"line number {n:03d}") for n in range(10)
    ]
    asked = text(summary_messages(MARISOL, INGRID, lines, [INGRID, TOBIAS]))
    assert "You just talked with Ingrid and Tobias" in asked
    assert "Ingrid: Kofi told me about a party at five." in asked  # her first line
    assert "line number 009" in asked and "line number 002" not in asked
