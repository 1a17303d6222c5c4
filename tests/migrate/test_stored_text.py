"""A uniform line's body kept as its own text: only when that text is the stored JSON."""

import json
import math
import zipfile

import pytest

from smalltown.migrate.import_zip import import_zip
from smalltown.migrate.source import parse_uniform
from smalltown.migrate.stored_text import body_text
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Schema, Table, VectorIndex, encode_id, open_store
from smalltown.store.values import loads

ID = encode_id(10004, bytes(14) + (20529).to_bytes(2, "big"))
HEAD = f'{{"_id":"{ID}","_creationTime":1773731010136.8516,'
LONG = ",".join(["0.5"] * 1200)  # past the short-line path: exercises both


def same(a, b) -> bool:
    """Equal values of equal types (1 is not 1.0, -0.0 is not 0.0, NaN equals NaN)."""
    return json.dumps(a, default=repr) == json.dumps(b, default=repr)


def body(line: bytes) -> dict:
    doc = parse_uniform(line)
    return {k: v for k, v in doc.items() if not k.startswith("_")}


@pytest.mark.parametrize("pad", ["", f',"v":[{LONG}]'])
@pytest.mark.parametrize(
    "fields",
    [
        '"a":1,"b":1.0,"s":"x","o":{"k":[1,2.5,"e"]},"n":null,"t":true',
        '"big":12345678901234567890.0,"tiny":0.00001,"neg":-0.5,"z":0.0',
        # Look-alikes inside strings: a hex id, words that spell a literal or a -0.0.
        '"uuid":"3e8f09e1-0E5","note":"me-time, E1, NaN, Infinity, -0.0","ok":false',
        '"list":["1e5",true,2,"-0.0"],"e":"e","E":{"e1":0.25}',
    ],
)
def test_the_text_is_kept_and_decodes_to_the_parsed_body(fields, pad):
    line = f"{HEAD}{fields}{pad}}}\n".encode()
    text = body_text(line)
    assert text is not None and "_id" not in text and "_creationTime" not in text
    assert same(loads(text), body(line))


@pytest.mark.parametrize("pad", ["", f',"v":[{LONG}]'])
@pytest.mark.parametrize(
    "fields",
    [
        '"x":1.5e3',  # JSONB would make it the integer 1500
        '"x":2E-7',
        '"x":-0.0',  # JSONB would drop the sign
        '"x":-0.000',
        '"x":NaN',
        '"x":Infinity',
        '"x":{"$integer":"AQAAAAAAAAA="}',  # an Int64, not its stored form
        '"\\u005fid":"sneaky"',  # an escaped key spelling _id
        '"_id":"twice"',
        '"a":{"_creationTime":1.0}',
        '"bytes":{"$bytes":"AP8="}',
        '"ok":true,"x":[1,-0.0]',  # after a keyword with an e
        '"s":"a","x":7e1',  # between strings
    ],
)
def test_text_another_engine_could_read_otherwise_is_not_kept(fields, pad):
    assert body_text(f"{HEAD}{fields}{pad}}}\n".encode()) is None


def test_only_system_fields_at_the_start_are_cut():
    assert body_text(f'{{"_creationTime":1.5,"_id":"{ID}","a":1}}'.encode()) == '{"a":1}'
    assert body_text(f'{{"_id":"{ID}","_creationTime":1.5}}\n'.encode()) == "{}"
    assert body_text(f'{{"a":1,"_id":"{ID}","_creationTime":1.5}}'.encode()) is None


async def test_kept_text_reads_back_with_every_type_on_every_provider(store_url, tmp_path):
    schema = with_system_tables(
        Schema([Table("things", vector_indexes=[VectorIndex("v", "v", 1200)])])
    )
    lines = [
        f'{{"_id":"{ID}","_creationTime":1.5,"i":7,"f":7.0,"big":12345678901234567890.0,'
        f'"tiny":0.00001,"e":1.5e3,"nz":-0.0,"v":[{LONG}]}}'
    ]
    path = tmp_path / "s.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_tables/documents.jsonl", '{"name":"things","id":10004}\n')
        z.writestr("things/documents.jsonl", "\n".join(lines) + "\n")
        z.writestr("things/generated_schema.jsonl", '"uniform"\n')
    store = await open_store(store_url, schema)
    try:
        await import_zip(store, path)
        got = await store.read(lambda tx: tx.get(ID))
        assert type(got["i"]) is int and type(got["f"]) is float and got["f"] == 7.0
        assert got["big"] == 12345678901234567890.0 and type(got["big"]) is float
        assert got["tiny"] == 0.00001 and got["e"] == 1500.0 and type(got["e"]) is float
        assert math.copysign(1, got["nz"]) == -1
        found = await store.read(lambda tx: tx.vector_search("things", "v", [0.5] * 1200))
        assert found[0][0] == ID
    finally:
        await store.close()
