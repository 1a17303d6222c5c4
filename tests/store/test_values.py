import math
import struct

import pytest

from smalltown.store import InvalidValueError, values
from smalltown.store.values import check_value, dumps, loads

AWKWARD = {
    "int": 1,
    "float_one": 1.0,
    "neg_zero": -0.0,
    "big_float": 1e20,
    "tiny": 5e-324,
    "inf": math.inf,
    "ninf": -math.inf,
    "max_int": 2**63 - 1,
    "min_int": -(2**63),
    "bytes": b"\x00\xffabc",
    "nested": {"list": [1, 1.5, None, True, "s", b"b", {"deep": [[-0.0]]}]},
    "unicode": "héllo \u4e2d\U0001f600",
}


def test_stored_json_round_trips_every_type_exactly():
    back = loads(dumps(AWKWARD))
    assert back == AWKWARD
    for key, value in AWKWARD.items():
        assert type(back[key]) is type(value)
    assert math.copysign(1.0, back["neg_zero"]) == -1.0
    assert math.isnan(loads(dumps({"n": math.nan}))["n"])


@pytest.mark.parametrize(
    "odd", [-0.0, math.inf, math.nan, 1e-300, b"\x01", 7, [0.5], {"k": -0.0}, "s", None]
)
@pytest.mark.parametrize("at", [0, 20, 39])
def test_a_long_list_with_one_stored_form_item_reads_back_exactly(odd, at):
    # Reading skips decoding a long list of plain floats (an embedding) as a whole.
    vector = [0.25 + i for i in range(40)]
    vector[at] = odd
    back = loads(dumps({"v": vector, "plain": [0.5] * 40}))
    assert back["plain"] == [0.5] * 40
    assert [type(x) for x in back["v"]] == [type(x) for x in vector]
    assert repr(back["v"]) == repr(vector)  # -0.0, nan, bytes and nesting included


@pytest.mark.parametrize(
    "bad",
    [{1, 2}, object(), 2**63, -(2**63) - 1, {"$x": 1}, {1: "a"}, {"": 1}, (1, 2), 1j],
)
def test_non_convex_values_are_refused_with_their_path(bad):
    with pytest.raises(InvalidValueError, match="value"):
        check_value({"field": bad})


def _random_value(rng, depth=0):
    """Mostly valid values, with the occasional thing a Convex value must not hold."""
    roll = rng.random() * (1 + depth)  # containers get rarer deeper down
    if roll < 0.35:
        keys = [rng.choice(["a", "b", "_c", "$bad", "", "x\x00y", 5, "n" * 1030]) for _ in range(3)]
        return {k: _random_value(rng, depth + 1) for k in keys}
    if roll < 0.6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return rng.choice(
        [
            None,
            True,
            1.5,
            -0.0,
            "s",
            b"b",
            7,
            2**63 - 1,
            -(2**63),
            2**63,
            -(2**63) - 1,
            {1, 2},
            (1,),
            object(),
            type("Sub", (int,), {})(3),
            type("D", (dict,), {})(a=1),
        ]
    )


def test_the_quick_check_accepts_nothing_the_full_check_refuses():
    import random

    rng = random.Random(3)
    for _ in range(3000):
        value = _random_value(rng)
        if rng.random() < 0.1:  # near the nesting limit
            for _ in range(rng.randint(60, 66)):
                value = [value] if rng.random() < 0.5 else {"k": value}
        try:
            values._check_value(value, "v", 0)
            expected = None
        except InvalidValueError as exc:
            expected = str(exc)
        try:
            values.check_value(value, "v")
            got = None
        except InvalidValueError as exc:
            got = str(exc)
        assert got == expected


@pytest.mark.parametrize("depth", [63, 64, 65])
def test_nesting_limit_on_both_paths(depth):
    value: object = 1.5
    for _ in range(depth):
        value = {"a": value}
    if depth <= values.MAX_DEPTH:
        values.check_value(value)
    else:
        with pytest.raises(InvalidValueError, match="nested more than 64"):
            values.check_value(value)


@pytest.mark.parametrize(
    "odd",
    [
        True,  # a bool, an int, an int too big: all but the last are values
        7,
        2**63,
        float("nan"),
        -0.0,
        "s",
        None,
        [1.5],
        {"$bad": 1.5},
        type("F", (float,), {})(0.25),  # a float subclass
        (1.5,),
    ],
)
@pytest.mark.parametrize("at", [0, 1, 499])
def test_a_long_list_of_floats_with_one_odd_item_is_judged_like_a_short_one(odd, at):
    # Lists of 32 items or more are checked as a whole (values.float_array).
    long = [0.125 * i for i in range(500)]
    long[at] = odd
    outcomes = []
    for value in (long, [long[at]]):
        try:
            check_value({"v": value})
            outcomes.append(None)
        except InvalidValueError as exc:
            outcomes.append(str(exc).replace("[0]", f"[{at}]"))
    assert outcomes[0] == outcomes[1]
    exact = values.float_array(long)
    assert (exact is not None) == (type(odd) is float)
    if exact is not None:
        assert exact.tobytes() == struct.pack(f"<{len(long)}d", *long)  # the very bits
