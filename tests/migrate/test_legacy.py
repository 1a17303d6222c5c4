"""Legacy snapshots: clean JSON whose lost types come back from the per-document hints in
``generated_schema.jsonl``."""

import base64
import json
import math
import struct
import zipfile

import pytest

from smalltown.migrate.import_zip import SnapshotError, import_zip
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Schema, Table, encode_id, open_store
from smalltown.store.ids import new_internal_id

SCHEMA = with_system_tables(Schema([Table("things")]))
NUMBER = 10007
NAN_BITS = struct.pack("<d", float("nan"))


def legacy_zip(path, docs, hints):
    shape = '"{\\"_creationTime\\": normalfloat64, \\"_id\\": id<10007>, ...}"\n'
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_tables/documents.jsonl", json.dumps({"name": "things", "id": NUMBER}) + "\n")
        z.writestr("things/documents.jsonl", "".join(json.dumps(d) + "\n" for d in docs))
        z.writestr(
            "things/generated_schema.jsonl",
            shape + "".join(json.dumps({i: h}) + "\n" for i, h in hints.items()),
        )
    return path


def new_id():
    return encode_id(NUMBER, new_internal_id())


@pytest.fixture
async def store(store_url):
    s = await open_store(store_url, SCHEMA)
    yield s
    await s.close()


async def test_hints_restore_int64_bytes_and_special_floats(store, tmp_path):
    typed, plain = new_id(), new_id()
    docs = [
        {
            "_id": typed,
            "_creationTime": 1.7e12,
            "count": "5",
            "blob": base64.b64encode(b"\x00\xff").decode(),
            "far": "-Infinity",
            "odd": "NaN",
            "nested": {"big": "9007199254740993", "label": "5"},
            "list": ["1", "x", 2],
        },
        {"_id": plain, "_creationTime": 1.7e12 + 1, "count": "5", "n": 3},
    ]
    hints = {
        typed: {
            "count": "int64",
            "blob": "bytes",
            "far": "float64inf",
            "odd": {"$float64NaN": base64.b64encode(NAN_BITS).decode()},
            "nested": {"big": "int64"},
            "list": ["int64", "infer", "infer"],
        }
    }
    await import_zip(store, legacy_zip(tmp_path / "l.zip", docs, hints))
    got = await store.read(lambda tx: tx.get(typed))
    assert got["count"] == 5 and type(got["count"]) is int
    assert got["blob"] == b"\x00\xff"
    assert got["far"] == -math.inf and math.isnan(got["odd"])
    assert got["nested"] == {"big": 9007199254740993, "label": "5"}
    assert got["list"] == [1, "x", 2.0] and type(got["list"][2]) is float
    other = await store.read(lambda tx: tx.get(plain))
    assert other["count"] == "5" and other["n"] == 3.0 and type(other["n"]) is float


@pytest.mark.parametrize(
    "hint",
    ["int64x", {"count": "bytes"}, {"count": ["int64"]}, "set"],
)
async def test_a_hint_that_does_not_fit_is_reported_and_nothing_written(store, tmp_path, hint):
    first, second = new_id(), new_id()
    docs = [
        {"_id": first, "_creationTime": 1.0, "count": "1"},
        {"_id": second, "_creationTime": 2.0, "count": "x!"},
    ]
    path = legacy_zip(tmp_path / "bad.zip", docs, {second: hint})
    with pytest.raises(SnapshotError, match=r"things/documents\.jsonl line 2: its type hint"):
        await import_zip(store, path)
    assert await store.read(lambda tx: tx.count("things")) == 0
