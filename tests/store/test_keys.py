"""Index keys must sort exactly as Convex orders values."""

import math
import random
import struct

from smalltown.store import UNDEFINED
from smalltown.store.keys import encode_tuple, encode_value, successor

# Convex's order of types: undefined < null < Int64 < Float64 < Boolean < String < Bytes
# < Array < Object.
ORDERED = [
    UNDEFINED,
    None,
    -(2**63),
    -5,
    0,
    7,
    2**63 - 1,
    -math.inf,
    -1.5,
    -0.0,
    0.0,
    1e-300,
    2.5,
    math.inf,
    math.nan,
    False,
    True,
    "",
    "\x00",
    "\x00\x00",
    "\x01",
    "a",
    "a\x00",
    "a\x00b",
    "ab",
    "b",
    "é",
    b"",
    b"\x00",
    b"\xff",
    [],
    [None],
    [1],
    [1, 2],
    ["a"],
    {},
    {"a": 1},
    {"b": 0},
]


def test_every_value_sorts_in_convex_order():
    encoded = [encode_value(v) for v in ORDERED]
    assert encoded == sorted(encoded)
    assert len(set(encoded)) == len(encoded)


def _float_order_key(x: float):
    (bits,) = struct.unpack(">q", struct.pack(">d", x))
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF) - 1


def test_random_numbers_sort_like_their_values():
    rng = random.Random(7)
    ints = [rng.randint(-(2**63), 2**63 - 1) for _ in range(500)]
    assert sorted(ints, key=encode_value) == sorted(ints)
    floats = [rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-200, 200) for _ in range(500)]
    assert sorted(floats, key=encode_value) == sorted(floats)


def test_random_strings_sort_by_utf8_bytes():
    rng = random.Random(11)
    alphabet = "ab\x00\x01\xff\u00e9\u4e2d"
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(400)]
    assert sorted(strings, key=encode_value) == sorted(strings, key=lambda s: s.encode())


def test_tuples_sort_lexicographically_and_prefixes_are_contiguous():
    rng = random.Random(3)
    tuples = [(rng.choice(["x", "y", ""]), rng.randint(-3, 3), rng.random()) for _ in range(300)]
    assert sorted(tuples, key=encode_tuple) == sorted(tuples)
    prefix = encode_tuple(["x"])
    end = successor(prefix)
    inside = [t for t in tuples if prefix <= encode_tuple(t) < end]
    assert inside == [t for t in tuples if t[0] == "x"]


def test_successor():
    assert successor(b"a") == b"b"
    assert successor(b"a\xff\xff") == b"b"
    assert successor(b"\xff") is None
