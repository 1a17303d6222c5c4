"""Export: a Convex snapshot ZIP laid out as `npx convex export` writes one."""

import json
import math
import subprocess
import sys
import zipfile

from smalltown.migrate.export import export_zip
from smalltown.migrate.export_json import to_export
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Index, Schema, Table, decode_id, open_store


def test_export_json_writes_every_type_as_convex_does():
    line = json.dumps(
        to_export(
            {
                "int": 5,
                "float": 5.0,
                "neg_zero": -0.0,
                "big": 1e20,
                "nan": math.nan,
                "bytes": b"\x00\xff",
                "nested": [1, 1.5, {"x": None}],
            }
        )
    )
    assert '"int": 5,' in line and '"float": 5.0' in line and '"neg_zero": -0.0' in line
    assert '"big": {"$float": ' in line and '"nan": {"$float": ' in line
    assert '"bytes": {"$bytes": "AP8="}' in line and '"nested": [1, 1.5, {"x": null}]' in line


async def test_a_snapshot_has_convexs_layout_and_every_document(tmp_path):
    schema = Schema([Table("messages", indexes=[Index("by_author", ["author"])]), Table("empty")])
    store = await open_store(f"sqlite:///{tmp_path}/src.db", with_system_tables(schema))
    try:
        ids = await store.run(lambda tx: _fill(tx, 1234))
        counts = await export_zip(store, tmp_path / "out.zip")
        numbers = store.table_numbers
    finally:
        await store.close()
    assert counts == {"messages": 1234, "empty": 0}
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        names = set(archive.namelist())
        assert names == {
            "README.md",
            "_tables/documents.jsonl",
            "messages/documents.jsonl",
            "messages/generated_schema.jsonl",
            "empty/documents.jsonl",
            "empty/generated_schema.jsonl",
        }
        tables = [json.loads(line) for line in archive.read("_tables/documents.jsonl").splitlines()]
        assert {t["name"]: t["id"] for t in tables} == {
            "messages": numbers["messages"],
            "empty": numbers["empty"],
        }
        assert archive.read("messages/generated_schema.jsonl") == b'"uniform"\n'
        assert archive.read("empty/documents.jsonl") == b""
        lines = archive.read("messages/documents.jsonl").decode().splitlines()
    docs = [json.loads(line) for line in lines]
    assert [d["_id"] for d in docs] == ids  # creation order
    assert all(decode_id(d["_id"])[0] == numbers["messages"] for d in docs)
    assert isinstance(docs[0]["_creationTime"], float)
    assert '"n":0,' in lines[0] and '"f":0.5' in lines[0]  # Int64 bare, float with a point


async def _fill(tx, n):
    return [
        await tx.insert("messages", {"author": f"a{i % 3}", "n": i, "f": i + 0.5}) for i in range(n)
    ]


def test_the_cli_exports_the_town(tmp_path):
    db = f"sqlite:///{tmp_path}/town.db"
    created = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", "worlds", "create", "--database", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smalltown.cli",
            "export",
            str(tmp_path / "town.zip"),
            "--database",
            db,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "exported" in result.stderr
    with zipfile.ZipFile(tmp_path / "town.zip") as archive:
        names = archive.namelist()
        assert "worlds/documents.jsonl" in names and "maps/documents.jsonl" in names
        assert not any(n.startswith("_smalltown") or n.startswith("_scheduled") for n in names)
        (world,) = [json.loads(x) for x in archive.read("worlds/documents.jsonl").splitlines()]
        assert world["players"] == [] and "nextId" in world
    assert not (tmp_path / "town.zip.partial").exists()
