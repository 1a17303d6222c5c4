"""Events read from what a resident heard, without a model: a gathering, a time of day
(said in the ways people say it, as the next such time from now) and a place of the
town; anything less is no event to walk to."""

import pytest

from smalltown.agents.events import find_event, place_said, time_said
from smalltown.town.places import PLACES

TOWN = [{"name": name, "x": float(x), "y": float(y)} for name, x, y in PLACES]
NOON, FOUR_PM, EARLY = 12 * 60, 16 * 60, 3 * 60


@pytest.mark.parametrize(
    ("said", "now", "minute"),
    [
        ("a party at five", FOUR_PM, 17 * 60),
        ("a party at five this afternoon", EARLY, 17 * 60),
        ("a party at 5pm", EARLY, 17 * 60),
        ("a party at 5 p.m.", EARLY, 17 * 60),
        ("a party at 5", EARLY, 17 * 60),  # said plainly, before seven: the afternoon's
        ("a party at 17:00", EARLY, 17 * 60),
        ("a party at 5:30", NOON, 17 * 60 + 30),
        ("a party at half past four", NOON, 16 * 60 + 30),
        ("a party at quarter to five", NOON, 16 * 60 + 45),
        ("a party at ten in the morning", EARLY, 10 * 60),
        ("a party at 10 am", EARLY, 10 * 60),
        ("a party at ten", EARLY, 10 * 60),  # the next ten o'clock
        ("a party at ten", NOON, 22 * 60),
        ("a party at noon", EARLY, 12 * 60),
        ("a party at five o'clock", NOON, 17 * 60),
        ("a party at 4:45", 17 * 60, 16 * 60 + 45),  # a quarter of an hour late: still on
    ],
)
def test_a_time_is_read_as_the_next_such_time(said, now, minute):
    assert time_said(said, now) == minute


@pytest.mark.parametrize(
    ("said", "now"),
    [
        ("a party at the fountain", NOON),  # no time
        ("we met at one point for a party", NOON),  # not a time
        ("a party at 9 this morning", NOON),  # long over
        ("a party at 25:00", NOON),
        ("at least it was a party", NOON),
    ],
)
def test_no_time_or_a_time_long_past_is_none(said, now):
    assert time_said(said, now) is None


def test_a_place_of_the_town_is_found_by_name():
    assert place_said("by the Fountain, I think", TOWN)["name"] == "the fountain"
    assert place_said("at the square benches", TOWN)["name"] == "the square benches"
    assert place_said("somewhere by the lighthouse", TOWN) is None
    assert place_said("the fountains of Rome", TOWN) is None  # a word, not part of one


def test_an_event_becomes_a_plan_item():
    heard = "Kofi told me about a party at the fountain at five this afternoon; all welcome."
    assert find_event(heard, TOWN, FOUR_PM) == {
        "start": 17 * 60.0,
        "place": "the fountain",
        "x": 22.0,
        "y": 14.0,
        "activity": "at the party",
        "emoji": "🎉",
    }
    concert = find_event("Odile says the concert is by the pond at 7:30 pm.", TOWN, NOON)
    assert concert is not None and concert["activity"] == "at the concert"
    assert (concert["start"], concert["place"]) == (19 * 60 + 30, "the pond")


@pytest.mark.parametrize(
    "heard",
    [
        "Kofi told me about a party at five.",  # no place of the town
        "Kofi told me about a party at the lighthouse at five.",
        "Kofi said he will be at the fountain at five.",  # no gathering
        "I talked about the fair and the fog; the bakery ran out of flour.",  # no time
    ],
)
def test_less_than_a_gathering_time_and_place_is_no_event(heard):
    assert find_event(heard, TOWN, NOON) is None
