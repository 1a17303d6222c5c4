"""Legacy snapshots: the types only a table's shape line gives (line 1 of
``generated_schema.jsonl``) come back on import; the shape language's parser."""

import base64
import json
import math
import zipfile

import pytest

from smalltown.migrate.import_zip import SnapshotError, import_zip
from smalltown.migrate.shape import ShapeSyntaxError, parse_shape, restore
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Schema, Table, encode_id, open_store
from smalltown.store.ids import new_internal_id

SCHEMA = with_system_tables(Schema([Table("things"), Table("empty")]))
THINGS, EMPTY = 10007, 10008
BASE = '"_creationTime": normalfloat64, "_id": id<10007>'


def shape_zip(path, shape, docs, hints=None, empty_shape="never"):
    """A legacy snapshot: ``things`` with ``docs`` under ``shape``, and an empty table."""
    hints = hints or {}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "_tables/documents.jsonl",
            json.dumps({"name": "things", "id": THINGS})
            + "\n"
            + json.dumps({"name": "empty", "id": EMPTY})
            + "\n",
        )
        z.writestr("things/documents.jsonl", "".join(json.dumps(d) + "\n" for d in docs))
        z.writestr(
            "things/generated_schema.jsonl",
            json.dumps(shape) + "\n" + "".join(json.dumps({i: h}) + "\n" for i, h in hints.items()),
        )
        z.writestr("empty/documents.jsonl", "")
        z.writestr("empty/generated_schema.jsonl", json.dumps(empty_shape) + "\n")
    return path


def new_id():
    return encode_id(THINGS, new_internal_id())


def doc(_id, at=0, **fields):
    return {"_id": _id, "_creationTime": 1.7e12 + at, **fields}


@pytest.fixture
async def store(store_url):
    s = await open_store(store_url, SCHEMA)
    yield s
    await s.close()


async def test_int64_bytes_and_floats_given_only_by_the_shape_import_typed(store, tmp_path):
    a, b = new_id(), new_id()
    shape = (
        "{" + BASE + ', "count": int64, "blob": bytes, "score": float64, "zero": negativezero,'
        ' "label": string, "flag"?: boolean}'
    )
    blob = base64.b64encode(b"\x00\xffhi").decode()
    docs = [
        doc(a, 0, count="9007199254740993", blob=blob, score="-Infinity", zero=0, label="7"),
        doc(b, 1, count="-5", blob="", score=2.5, zero=0, label="x", flag=True),
    ]
    report = await import_zip(store, shape_zip(tmp_path / "s.zip", shape, docs))
    assert report.tables["things"] == 2 and report.notes == []
    got = await store.read(lambda tx: tx.get(a))
    assert got["count"] == 9007199254740993 and type(got["count"]) is int
    assert got["blob"] == b"\x00\xffhi"
    assert got["score"] == -math.inf
    assert got["zero"] == 0 and math.copysign(1, got["zero"]) == -1
    assert got["label"] == "7"  # a string stays one
    other = await store.read(lambda tx: tx.get(b))
    assert other["count"] == -5 and type(other["count"]) is int
    assert other["blob"] == b"" and other["score"] == 2.5 and other["flag"] is True


async def test_nested_objects_and_arrays_follow_the_shape(store, tmp_path):
    a = new_id()
    shape = (
        "{" + BASE + ', "pos": {"x": int64, "tags": array<bytes>, "deep"?: {"n": int64}},'
        ' "rows": array<{"k": int64, "v": string}>, "byName": record<string, int64>,'
        ' "specials": array<nan | inf | negativeinf>}'
    )
    docs = [
        doc(
            a,
            pos={"x": "3", "tags": ["AQ==", "Ag=="], "deep": {"n": "-1"}},
            rows=[{"k": "1", "v": "1"}, {"k": "2", "v": "b"}],
            byName={"ann": "10"},
            specials=["NaN", "Infinity", "-Infinity"],
        )
    ]
    await import_zip(store, shape_zip(tmp_path / "n.zip", shape, docs))
    got = await store.read(lambda tx: tx.get(a))
    assert got["pos"] == {"x": 3, "tags": [b"\x01", b"\x02"], "deep": {"n": -1}}
    assert got["rows"] == [{"k": 1, "v": "1"}, {"k": 2, "v": "b"}]
    assert type(got["rows"][0]["k"]) is int and got["rows"][0]["v"] == "1"
    assert got["byName"] == {"ann": 10} and type(got["byName"]["ann"]) is int
    nan, inf, ninf = got["specials"]
    assert math.isnan(nan) and inf == math.inf and ninf == -math.inf


async def test_a_union_admitting_string_and_int64_is_left_to_the_hints(store, tmp_path):
    a, b = new_id(), new_id()
    shape = (
        "{" + BASE + ', "either": int64 | string, "maybe": int64 | null,'
        ' "mode": "audio" | "lecture", "two": {"a": int64} | {"b": bytes}}'
    )
    docs = [
        doc(a, 0, either="5", maybe="6", mode="audio", two={"a": "1"}),
        doc(b, 1, either="7", maybe=None, mode="lecture", two={"b": "AQ=="}),
    ]
    hints = {b: {"either": "int64"}}  # the hint wins over the ambiguous union
    await import_zip(store, shape_zip(tmp_path / "u.zip", shape, docs, hints))
    got = await store.read(lambda tx: tx.get(a))
    assert got["either"] == "5"  # ambiguous: kept as read
    assert got["maybe"] == 6 and type(got["maybe"]) is int  # only int64 admits a string
    assert got["mode"] == "audio" and got["two"] == {"a": 1}
    other = await store.read(lambda tx: tx.get(b))
    assert other["either"] == 7 and type(other["either"]) is int
    assert other["maybe"] is None and other["two"] == {"b": b"\x01"}


async def test_hints_win_and_the_fields_they_do_not_name_follow_the_shape(store, tmp_path):
    a = new_id()
    shape = "{" + BASE + ', "count": int64, "code": int64, "list": array<int64>}'
    docs = [doc(a, count="5", code="6", list=["1", "2"])]
    hints = {a: {"code": "infer", "list": ["infer", "int64"]}}
    await import_zip(store, shape_zip(tmp_path / "h.zip", shape, docs, hints))
    got = await store.read(lambda tx: tx.get(a))
    assert got["count"] == 5 and type(got["count"]) is int  # not in the hint: the shape's
    assert got["code"] == "6"  # the hint says as read
    assert got["list"] == ["1", 2]


async def test_an_unknown_shape_token_imports_with_one_note(store, tmp_path):
    a = new_id()
    shape = "{" + BASE + ', "n": int64, "odd": wibble, "odder": wibble | string, "g": gizmo<int64>}'
    docs = [doc(a, n="4", odd="kept", odder="also", g=["7"])]
    report = await import_zip(store, shape_zip(tmp_path / "k.zip", shape, docs))
    notes = [n for n in report.notes if "things/generated_schema.jsonl" in n]
    assert notes == [
        "things/generated_schema.jsonl: shape types not known (wibble, gizmo<...>) kept as read"
    ]
    got = await store.read(lambda tx: tx.get(a))
    assert got["n"] == 4 and got["odd"] == "kept" and got["odder"] == "also" and got["g"] == ["7"]


async def test_an_unreadable_shape_line_imports_as_read_with_a_note(store, tmp_path):
    a = new_id()
    docs = [doc(a, n="4")]
    report = await import_zip(store, shape_zip(tmp_path / "b.zip", '{"n": int64, ', docs))
    assert any("could not be read" in n and "kept as read" in n for n in report.notes)
    assert (await store.read(lambda tx: tx.get(a)))["n"] == "4"


async def test_an_empty_tables_never_shape_imports_nothing_and_says_nothing(store, tmp_path):
    a = new_id()
    path = shape_zip(tmp_path / "e.zip", "{" + BASE + "}", [doc(a)])
    report = await import_zip(store, path)
    assert report.tables.get("empty", 0) == 0 and report.notes == []
    assert await store.read(lambda tx: tx.count("empty")) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x5", r"count: expected an int64"),
        ("99999999999999999999", r"count: expected an int64"),
        (5.0, r"count: expected an int64"),
    ],
)
async def test_a_value_that_contradicts_the_shape_is_reported_and_nothing_written(
    store, tmp_path, value, message
):
    docs = [doc(new_id(), 0, count="1"), doc(new_id(), 1, count=value)]
    path = shape_zip(tmp_path / "bad.zip", "{" + BASE + ', "count": int64}', docs)
    with pytest.raises(SnapshotError, match=r"things/documents\.jsonl line 2: does not fit"):
        await import_zip(store, path)
    with pytest.raises(SnapshotError, match=message):
        await import_zip(store, path)
    assert await store.read(lambda tx: tx.count("things")) == 0


def test_the_parser_reads_the_shape_language():
    parsed = parse_shape(
        '{"a"?: array<set<string>>, b: map<string, int64>, "c": id<"users">,'
        ' "d": 3 | -1.5 | "x\\"y", "e": any | unknown | never | positiveinf,}'
    )
    assert parsed.unknown == []
    shape = parsed.shape
    assert [(name, optional) for name, optional, _ in shape.fields] == [
        ("a", True),
        ("b", False),
        ("c", False),
        ("d", False),
        ("e", False),
    ]
    assert shape.field_shape("a").kind == "array"
    assert shape.field_shape("a").items[0].kind == "set"
    assert [s.kind for s in shape.field_shape("b").items] == ["string", "int64"]
    assert shape.field_shape("c").literal == "users"
    assert [m.literal for m in shape.field_shape("d").items] == [3.0, -1.5, 'x"y']
    assert [m.kind for m in shape.field_shape("e").items] == ["any", "any", "never", "inf"]
    assert parse_shape("never").shape.kind == "never"


@pytest.mark.parametrize(
    "text", ["{", "{a int64}", "array<int64", "int64 |", "{a: int64} extra", "id<>", "array<a, b>"]
)
def test_text_outside_the_shape_language_is_a_typed_error(text):
    with pytest.raises(ShapeSyntaxError):
        parse_shape(text)


def test_union_members_are_told_apart_strictly():
    shape = parse_shape('{"a": int64} | {"a": int64, "b"?: string}').shape
    assert restore({"a": "1"}, shape) == {"a": 1}  # both members agree
    assert restore({"a": "1", "b": "x"}, shape) == {"a": 1, "b": "x"}
    shape = parse_shape("int64 | bytes").shape
    assert restore("AQ==", shape) == b"\x01"  # not a decimal: only bytes fits
    assert restore("1234", shape) == "1234"  # both fit, differently: kept as read
    assert restore("12", shape) == 12  # not base64 (unpadded): only int64 fits
