"""The fast uniform-line parser gives exactly what the standard one gives."""

import json
import math

import pytest

from smalltown.migrate.source import SnapshotError, parse_document, parse_uniform
from smalltown.migrate.typed import typed_object

LONG = ",".join(f"0.{i:06d}" for i in range(1, 1025))  # an embedding's worth of floats


def standard(line: bytes):
    return json.loads(line, object_hook=typed_object)


def typed(value):
    """A value with every number's and container's type spelt out, NaN comparable."""
    if isinstance(value, dict):
        return ["dict", [(k, typed(v)) for k, v in value.items()]]  # key order counts
    if isinstance(value, list):
        return ["list", [typed(v) for v in value]]
    if isinstance(value, float):
        return ["float", value.hex()]  # tells -0.0 from 0.0, and NaN's bits
    return [type(value).__name__, value]


@pytest.mark.parametrize(
    "line",
    [
        '{"b":1,"a":1.0,"c":-0.0,"d":-0,"e":0.0,"f":5,"g":5.0}',
        '{"z":null,"y":true,"x":false,"w":"\\u00e9\\u0000\\ud83d\\ude00","v":"é😀"}',
        '{"a":1,"a":2.0}',  # the last wins
        '{"i":9223372036854775807,"j":-9223372036854775808}',
        '{"i":9223372036854775808}',  # past Int64: an int, for the check to refuse
        '{"i":18446744073709551616,"j":-9223372036854775809}',  # orjson: floats
        '{"i":123456789012345678901234567890}',
        '{"s":"12345678901234567890","x":1.5}',  # a digit run in a string only
        '{"f":1e5,"g":2E-7,"h":1.7976931348623157e308,"k":5e-324}',
        '{"f":1.2345678901234567890123}',
        '{"n":NaN,"i":Infinity,"j":-Infinity}',  # not JSON, but read as always
        '{"big":1e400}',
        '{"lone":"\\ud800"}',
        '{"f":{"$float":"AAAAAAAA+H8="},"b":{"$bytes":"AP8="},"i":{"$integer":"AQAAAAAAAAA="}}',
        '{"l":[{"$bytes":""},[{"$float":"AAAAAAAAAIA="}]],"o":{"p":{"$integer":"//////////8="}}}',
        '{"two":{"$float":"AAAAAAAA+H8=","x":1},"s":"$5"}',  # not typed: kept as objects
        f'{{"v":[{LONG}],"t":{{"$bytes":"AP8="}}}}',
        f'{{"v":[{LONG}],"n":7}}',
    ],
)
def test_the_same_values_of_the_same_types_as_the_standard_parser(line):
    data = line.encode()
    got = parse_uniform(data)
    assert typed(got) == typed(standard(data))
    assert typed(parse_uniform(line)) == typed(got)  # str in, the same


def test_integers_past_64_bits_stay_integers():
    doc = parse_uniform(b'{"i":18446744073709551616,"j":-9223372036854775809,"k":5}')
    assert doc == {"i": 2**64, "j": -(2**63) - 1, "k": 5}
    assert all(isinstance(v, int) for v in doc.values())


def test_typed_objects_become_their_values():
    doc = parse_uniform(b'{"f":{"$float":"AAAAAAAA+H8="},"b":[{"$bytes":"AP8="}]}')
    assert math.isnan(doc["f"]) and doc["b"] == [b"\x00\xff"]


@pytest.mark.parametrize(
    "line",
    [
        b"{not json",
        b'{"a":1}x',
        b'{"a":"\xff"}',  # not UTF-8
        b'{"f":{"$float":"not base64!"}}',
        b'{"f":{"$float":"AAAA"}}',  # base64 of too few bytes
        b'{"f":{"$bytes":5}}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_bad_lines_are_typed_errors(line):
    with pytest.raises(SnapshotError, match="here: not JSON"):
        parse_document(line, "here", parse_uniform)


SMALL = ",".join(f"{x!r}" for x in [0.0023416446056216955, -0.00012345678901234567, 1e-7])


@pytest.mark.parametrize(
    "line",
    [
        f'{{"v":[{SMALL}],"n":7}}',  # many digits after a point: not an integer
        '{"s":"x","f":12345678901234567.5}',
    ],
)
def test_long_fractions_keep_the_fast_parser(line, monkeypatch):
    from smalltown.migrate import uniform_json

    def refuse(data):
        raise AssertionError("took the standard parser")

    monkeypatch.setattr(uniform_json, "_standard", refuse)
    assert typed(parse_uniform(line.encode())) == typed(standard(line.encode()))


@pytest.mark.parametrize(
    "line",
    [
        '{"i":18446744073709551616}',
        '{"l":[1.5,-18446744073709551616]}',
        '{"a":[12345678901234567890123]}',
        '{"s":"12345678901234567890","x":1.5}',  # a string: costs the fallback only
    ],
)
def test_long_integers_take_the_standard_parser(line, monkeypatch):
    from smalltown.migrate import uniform_json

    taken = []
    real = uniform_json._standard

    def spy(data):
        taken.append(data)
        return real(data)

    monkeypatch.setattr(uniform_json, "_standard", spy)
    assert typed(parse_uniform(line.encode())) == typed(standard(line.encode()))
    assert taken
