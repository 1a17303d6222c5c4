"""Reading a day plan an LLM wrote, repairing what can be repaired, and the offline brain's
plans: plausible, in the town's places, the same for the same seed."""

from smalltown.agents.planning import parse_plan, parse_steps
from smalltown.llm.offline import OfflineBrain
from smalltown.town.defaults import CHARACTERS
from smalltown.town.places import PLACES

TOWN = [{"name": name, "x": float(x), "y": float(y)} for name, x, y in PLACES]
NAMES = [p["name"] for p in TOWN]


def persona(n: int):
    c = CHARACTERS[n]
    return {"name": c["name"], "description": "", "identity": c["identity"], "plan": c["plan"]}


def test_a_plan_in_many_shapes_is_read():
    text = (
        "Sure! Here's my plan:\n"
        "1. 08:00 | The Bakery | baking the rye loaf | 🍞\n"
        "- 9.30 | market | selling bread\n"
        "**11:00** | the pond | feeding the ducks | 🦆 |\n"
        "2) 1:15pm | the moon base | looking at stars | 🔭\n"
        "25:00 | the pond | impossible hour\n"
        "14:00 the fountain, no bars here\n"
    )
    items, unknown = parse_plan(text, TOWN, minute=8 * 60)
    assert [(i["start"], i["place"], i["activity"]) for i in items[:3]] == [
        (480, "the bakery", "baking the rye loaf"),
        (570, "the market", "selling bread"),
        (660, "the pond", "feeding the ducks"),
    ]
    assert (items[3]["start"], items[3]["activity"]) == (795, "looking at stars")
    assert len(items) == 4
    assert unknown == 1  # the moon base: given one of the town's places
    assert items[0]["emoji"] == "🍞" and "emoji" not in items[1]
    assert all(i["place"] in NAMES for i in items)
    spot = {p["name"]: (p["x"], p["y"]) for p in TOWN}
    assert all(spot[i["place"]] == (i["x"], i["y"]) for i in items)


def test_a_plan_starts_now_and_drops_what_is_over():
    text = "07:00 | the pond | fishing\n09:00 | the garden | weeding\n12:00 | the market | lunch"
    items, _ = parse_plan(text, TOWN, minute=10 * 60)
    assert [(i["start"], i["activity"]) for i in items] == [(540, "weeding"), (720, "lunch")]
    items, _ = parse_plan("12:00 | the market | lunch\n13:00 | the pond | nap", TOWN, 600)
    assert items[0]["start"] == 600  # moved to now: something is under way at once


def test_steps_are_read_from_a_list():
    assert parse_steps("1. Open the shop.\n2) Light the oven\n- Knead\n\n* Bake") == [
        "Open the shop",
        "Light the oven",
        "Knead",
        "Bake",
    ]


def test_the_offline_brain_plans_a_plausible_day_in_the_towns_places():
    brain = OfflineBrain()
    tobias = brain.plan(persona(1), NAMES, 8 * 60, "seed")
    assert tobias == brain.plan(persona(1), NAMES, 8 * 60, "seed")  # the same for a seed
    items, unknown = parse_plan(tobias, TOWN, 8 * 60)
    assert unknown == 0 and 3 <= len(items) <= 5
    assert items[0]["start"] == 480
    assert ("the bakery", "baking and handing out bread") in [
        (i["place"], i["activity"]) for i in items
    ]
    ingrid, _ = parse_plan(brain.plan(persona(2), NAMES, 8 * 60, "seed"), TOWN, 8 * 60)
    assert ("the garden", "looking for wildflowers") in [
        (i["place"], i["activity"]) for i in ingrid
    ]
    late, _ = parse_plan(brain.plan(persona(0), NAMES, 23 * 60, "s"), TOWN, 23 * 60)
    assert len(late) >= 2 and all(i["start"] < 24 * 60 for i in late)
    steps = parse_steps(brain.plan_steps("feeding the ducks", "s"))
    assert len(steps) == 3 and any("feeding the ducks" in s for s in steps)
