"""``smalltown import --table``: one table from a JSONL, JSON or CSV file, on every provider."""

import json
import subprocess
import sys

import pytest

from smalltown.migrate.import_zip import SnapshotError, import_table
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Index, Schema, Table, decode_id, encode_id, open_store
from smalltown.store.ids import new_internal_id

SCHEMA = with_system_tables(
    Schema([Table("people", indexes=[Index("by_name", ["name"])]), Table("other")])
)


@pytest.fixture
async def store(store_url):
    s = await open_store(store_url, SCHEMA)
    yield s
    await s.close()


async def _people(store):
    return await store.read(lambda tx: tx.query("people"))


async def test_jsonl_rows_get_new_ids_or_keep_theirs(store, tmp_path):
    number = store.table_numbers["people"]
    kept = encode_id(number, new_internal_id())
    path = tmp_path / "people.jsonl"
    path.write_text(
        json.dumps({"name": "Ada", "age": 36, "tags": ["x"]})
        + "\n\n"
        + json.dumps(
            {"_id": kept, "_creationTime": 5.5, "name": "Bo", "n": {"$integer": "BwAAAAAAAAA="}}
        )
        + "\n"
        + json.dumps({"name": "Cy", "raw": {"$bytes": "AP8="}})
        + "\n"
    )
    report = await import_table(store, "people", path)
    assert report.tables == {"people": 3}
    people = {p["name"]: p for p in await _people(store)}
    assert people["Bo"]["_id"] == kept and people["Bo"]["_creationTime"] == 5.5
    assert people["Bo"]["n"] == 7 and type(people["Bo"]["n"]) is int
    assert people["Ada"]["age"] == 36.0 and type(people["Ada"]["age"]) is float  # JS numbers
    assert people["Cy"]["raw"] == b"\x00\xff"
    assert decode_id(people["Ada"]["_id"])[0] == number
    assert people["Ada"]["_creationTime"] < people["Cy"]["_creationTime"]  # in file order


async def test_json_array_and_csv(store, tmp_path):
    array = tmp_path / "people.json"
    array.write_text(json.dumps([{"name": "Ada"}, {"name": "Bo", "ok": True}], indent=2))
    await import_table(store, "people", array)
    table = tmp_path / "people.csv"
    table.write_text('name,age,score,note\nCy,41,-0.5,"a, b"\nDi,1e3,,007x\n')
    await import_table(store, "people", table, mode="append")
    people = {p["name"]: p for p in await _people(store)}
    assert set(people) == {"Ada", "Bo", "Cy", "Di"} and people["Bo"]["ok"] is True
    assert people["Cy"]["age"] == 41.0 and type(people["Cy"]["age"]) is float
    assert people["Cy"]["score"] == -0.5 and people["Cy"]["note"] == "a, b"
    assert people["Di"]["age"] == 1000.0 and people["Di"]["score"] == ""
    assert people["Di"]["note"] == "007x"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.jsonl", '{"name": "ok"}\n\n{"name": \n', r"p.jsonl line 3: not JSON"),
        ("p.jsonl", '{"name": "ok"}\n[1]\n', r"p.jsonl line 2: a document must be a JSON object"),
        ("p.jsonl", '{"name": "ok"}\n{"$bad": 1}\n', r"p.jsonl line 2: .*invalid field name"),
        ("p.jsonl", '{"name": "ok"}\n{"_id": "nope"}\n', r"p.jsonl line 2: .*nope"),
        ("p.json", '[{"name": "ok"},\n 5]', r"p.json line 2: each element must be a JSON object"),
        ("p.json", '{"name": "ok"}', r"p.json line 1: expected a JSON array"),
        ("p.json", '[{"name": "ok"}\n\n{"x": 1}]', r"p.json line 3: expected ',' or ']'"),
        ("p.csv", "name,age\nok,1\nbad\n", r"p.csv line 3: 1 values for 2 columns"),
        ("p.csv", "name,name\n", r"p.csv line 1: header names must be unique"),
        ("p.txt", "", r"name the file .jsonl, .json or .csv"),
    ],
)
async def test_bad_input_names_the_line_and_writes_nothing(store, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SnapshotError, match=message):
        await import_table(store, "people", path)
    assert await store.read(lambda tx: tx.count("people")) == 0


async def test_ids_of_another_table_are_refused_and_unknown_tables_made(store, tmp_path):
    other = encode_id(store.table_numbers["other"], new_internal_id())
    mine = encode_id(store.table_numbers["people"], new_internal_id())
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"_id": mine}) + "\n" + json.dumps({"_id": other}) + "\n")
    with pytest.raises(SnapshotError, match=r"line 2: .*belongs to table number"):
        await import_table(store, "people", path)
    with pytest.raises(SnapshotError, match=r"line 2: .*belongs to table number"):
        await import_table(store, "nobody", path)
    assert "nobody" not in store.table_numbers  # refused: not even an empty table is left
    with pytest.raises(SnapshotError, match="system tables"):
        await import_table(store, "_secrets", path)
    assert await store.read(lambda tx: tx.count("people")) == 0
    # A table the app does not declare is made, as a snapshot's is, and kept.
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text('{"name": "a"}\n{"name": "b"}\n')
    report = await import_table(store, "nobody", fresh)
    assert report.tables == report.lines == {"nobody": 2} and report.undeclared == ["nobody"]
    assert "nobody" in store.undeclared
    assert await store.read(lambda tx: tx.count("nobody")) == 2


async def test_modes_apply_to_the_one_table(store, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"name": "a"}\n{"name": "b"}\n')
    await import_table(store, "people", path)
    with pytest.raises(SnapshotError, match=r"people \(2\).*--mode replace"):
        await import_table(store, "people", path)
    await import_table(store, "people", path, mode="append")
    assert await store.read(lambda tx: tx.count("people")) == 4
    await import_table(store, "people", path, mode="replace")
    assert await store.read(lambda tx: tx.count("people")) == 2


def test_the_cli_imports_one_table(tmp_path):
    path = tmp_path / "messages.csv"
    path.write_text("author,text,worldId\nAda,hello,w:1\nBo,hi,w:1\n")
    db = f"sqlite:///{tmp_path}/town.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smalltown.cli",
            "import",
            "--table",
            "messages",
            str(path),
            "--database",
            db,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "imported 2 of 2 documents into 1 table" in result.stderr, (
        result.stderr
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"author": "x"}\n{oops\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smalltown.cli",
            "import",
            "--table",
            "messages",
            str(bad),
            "--database",
            db,
            "--mode",
            "append",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "bad.jsonl line 2: not JSON" in result.stderr
