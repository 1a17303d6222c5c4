import math

import pytest

from smalltown.store import InvalidValueError
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
    "bad",
    [{1, 2}, object(), 2**63, -(2**63) - 1, {"$x": 1}, {1: "a"}, {"": 1}, (1, 2), 1j],
)
def test_non_convex_values_are_refused_with_their_path(bad):
    with pytest.raises(InvalidValueError, match="value"):
        check_value({"field": bad})
