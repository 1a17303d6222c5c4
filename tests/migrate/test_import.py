"""Import: Convex snapshot ZIPs (uniform and legacy) into a real store, safely."""

import contextlib
import json
import math
import zipfile

import pytest

from smalltown.migrate import import_zip as importer
from smalltown.migrate import parallel_check
from smalltown.migrate.export import export_zip
from smalltown.migrate.import_zip import SnapshotError, import_zip
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Index, Schema, StoreError, Table, encode_id, open_store
from smalltown.store.ids import new_internal_id

SCHEMA = with_system_tables(
    Schema(
        [
            Table("messages", indexes=[Index("by_author", ["author"])]),
            Table("players"),
            Table("empty"),
        ]
    )
)
MESSAGES, PLAYERS, EMPTY = 10004, 10002, 10009  # the snapshot's own numbers


def doc(table_number, i, **fields):
    return {
        "_id": encode_id(table_number, new_internal_id()),
        "_creationTime": 1773731010136.8516 + i,
        **fields,
    }


def write_zip(path, tables, uniform=True, extra=None):
    """A snapshot as `npx convex export` lays it out."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("README.md", "snapshot")
        z.writestr(
            "_tables/documents.jsonl",
            "".join(
                json.dumps({"name": name, "id": number}) + "\n"
                for name, (number, _) in tables.items()
            ),
        )
        for name, (_, lines) in tables.items():
            z.writestr(f"{name}/documents.jsonl", "".join(line + "\n" for line in lines))
            z.writestr(
                f"{name}/generated_schema.jsonl",
                '"uniform"\n' if uniform else '"{\\"_id\\": id<10004>}"\n',
            )
        for entry, content in (extra or {}).items():
            z.writestr(entry, content)
    return path


def uniform_lines():
    rows = [doc(MESSAGES, i, author=f"a{i % 3}", n=i) for i in range(1203)]
    lines = [json.dumps(r) for r in rows]
    special = doc(MESSAGES, 5000, author="special")
    lines.append(
        json.dumps(special)[:-1] + ', "int": 7, "float": 7.0, "neg": -0.0, '
        '"nan": {"$float": "AAAAAAAA+H8="}, "raw": {"$bytes": "AP8="}}'
    )
    return [*rows, special], lines


@pytest.fixture
async def store(store_url):
    s = await open_store(store_url, SCHEMA)
    yield s
    await s.close()


async def test_uniform_snapshots_import_with_ids_times_types_and_numbers(store, tmp_path):
    rows, lines = uniform_lines()
    players = [doc(PLAYERS, i, name=f"p{i}") for i in range(3)]
    path = write_zip(
        tmp_path / "s.zip",
        {
            "messages": (MESSAGES, lines),
            "players": (PLAYERS, [json.dumps(p) for p in players]),
            "empty": (EMPTY, []),
            "ghosts": (10011, [json.dumps(doc(10011, 0, boo=True))]),
        },
        extra={"_components/chat/_tables/documents.jsonl": "", "_storage/documents.jsonl": ""},
    )
    report = await import_zip(store, path)
    tables = {"messages": 1204, "players": 3, "empty": 0, "ghosts": 1, "_storage": 0}
    assert report.tables == report.lines == tables
    # a table the app does not declare is kept, as Convex keeps it
    assert report.undeclared == ["ghosts"] and store.undeclared == {"ghosts"}
    assert store.table_numbers["ghosts"] == 10011
    assert store.table_numbers["messages"] == MESSAGES and store.table_numbers["empty"] == EMPTY
    got = await store.read(lambda tx: tx.get(rows[7]["_id"]))
    assert got == rows[7]
    special = await store.read(lambda tx: tx.get(rows[-1]["_id"]))
    assert type(special["int"]) is int and type(special["float"]) is float
    assert math.copysign(1, special["neg"]) == -1 and math.isnan(special["nan"])
    assert special["raw"] == b"\x00\xff"
    by_author = await store.read(lambda tx: tx.query("messages", "by_author", eq={"author": "a1"}))
    assert len(by_author) == 401


async def test_legacy_snapshots_read_numbers_as_floats(store, tmp_path):
    row = doc(MESSAGES, 0, author="old", n=3)
    path = write_zip(tmp_path / "l.zip", {"messages": (MESSAGES, [json.dumps(row)])}, uniform=False)
    await import_zip(store, path)
    got = await store.read(lambda tx: tx.get(row["_id"]))
    assert got["n"] == 3.0 and type(got["n"]) is float


async def test_export_then_import_round_trips(store, tmp_path, store_url):
    _rows, lines = uniform_lines()
    await import_zip(store, write_zip(tmp_path / "a.zip", {"messages": (MESSAGES, lines)}))
    await export_zip(store, tmp_path / "b.zip")
    other = await open_store(f"sqlite:///{tmp_path}/copy.db", SCHEMA)
    try:
        await import_zip(other, tmp_path / "b.zip")
        first = await store.read(lambda tx: tx.query("messages"))
        second = await other.read(lambda tx: tx.query("messages"))
        assert len(first) == len(second) == 1204
        assert json.dumps(first, default=repr) == json.dumps(second, default=repr)
    finally:
        await other.close()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], "messages/documents.jsonl line 2: not JSON"),
        (["[1, 2]"], "line 2: a document must be a JSON object"),
        ([json.dumps({"_id": "garbage", "_creationTime": 1.0})], "line 2: .*garbage"),
        (
            [json.dumps(doc(PLAYERS, 9))],
            "line 2: .*table number 10002, but messages is number 10004",
        ),
        ([json.dumps({**doc(MESSAGES, 9), "_creationTime": "soon"})], "_creationTime"),
        # Beyond 64 bits: refused as integers, never imported as floats.
        ([json.dumps(doc(MESSAGES, 9, n=2**64))], "line 2: .*does not fit in a 64-bit"),
        ([json.dumps(doc(MESSAGES, 9, n=-(2**63) - 1))], "line 2: .*does not fit in a 64-bit"),
        ([json.dumps(doc(MESSAGES, 9, n=2**63))], "line 2: .*does not fit in a 64-bit"),
        (['{"a":' * 5000 + "1" + "}" * 5000], "line 2: not JSON"),
    ],
)
async def test_a_bad_line_is_reported_where_and_nothing_is_written(store, tmp_path, lines, message):
    good = json.dumps(doc(MESSAGES, 0, author="ok"))
    path = write_zip(tmp_path / "bad.zip", {"messages": (MESSAGES, [good, *lines])})
    with pytest.raises(SnapshotError, match=message):
        await import_zip(store, path)
    assert await store.read(lambda tx: tx.count("messages")) == 0


async def test_a_truncated_zip_is_refused(store, tmp_path):
    _, lines = uniform_lines()
    path = write_zip(tmp_path / "t.zip", {"messages": (MESSAGES, lines)})
    data = path.read_bytes()
    (tmp_path / "cut.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotError, match="not a readable ZIP"):
        await import_zip(store, tmp_path / "cut.zip")
    assert await store.read(lambda tx: tx.count("messages")) == 0


async def test_modes(store, tmp_path):
    first = write_zip(tmp_path / "1.zip", {"messages": (MESSAGES, [json.dumps(doc(MESSAGES, 0))])})
    second = write_zip(
        tmp_path / "2.zip",
        {"messages": (MESSAGES, [json.dumps(doc(MESSAGES, 1)), json.dumps(doc(MESSAGES, 2))])},
    )
    await import_zip(store, first)
    with pytest.raises(SnapshotError, match=r"messages \(1\).*--mode replace"):
        await import_zip(store, second)
    await import_zip(store, second, mode="append")
    assert await store.read(lambda tx: tx.count("messages")) == 3
    await import_zip(store, first, mode="replace")
    assert await store.read(lambda tx: tx.count("messages")) == 1
    with pytest.raises(SnapshotError, match="mode must be"):
        await import_zip(store, first, mode="merge")


@contextlib.contextmanager
def _dying_on_the_third_batch(monkeypatch):
    """Within the block, the import's process "dies" (KeyboardInterrupt) as it is about to
    write its third batch; after it, writes go through again."""
    real_write, calls = importer._write_prepared, []

    async def write(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process dies between batches
        return await real_write(*args)

    monkeypatch.setattr(importer, "_write_prepared", write)
    try:
        yield
    finally:
        monkeypatch.setattr(importer, "_write_prepared", real_write)


async def test_an_interrupted_import_finishes_when_run_again(store, tmp_path, monkeypatch):
    rows, lines = uniform_lines()
    path = write_zip(tmp_path / "i.zip", {"messages": (MESSAGES, lines)})
    monkeypatch.setattr(parallel_check, "ROWS_PER_BATCH", 500)
    with _dying_on_the_third_batch(monkeypatch), pytest.raises(KeyboardInterrupt):
        await import_zip(store, path)
    assert await store.read(lambda tx: tx.count("messages")) == 2 * 500
    report = await import_zip(store, path)
    assert report.resumed and report.tables["messages"] == len(rows)
    ids = [d["_id"] for d in await store.read(lambda tx: tx.query("messages"))]
    assert sorted(ids) == sorted(r["_id"] for r in rows)  # every one, none twice


async def test_vector_indexes_take_the_snapshots_dimension(tmp_path):
    from smalltown.store import VectorIndex

    schema = with_system_tables(
        Schema(
            [
                Table(
                    "memoryEmbeddings",
                    vector_indexes=[
                        VectorIndex("embedding", "embedding", 256, filter_fields=["playerId"])
                    ],
                )
            ]
        )
    )
    store = await open_store(f"sqlite:///{tmp_path}/v.db", schema)
    try:
        rows = [
            doc(10007, i, playerId="p:1", embedding=[float(i == j) for j in range(1024)])
            for i in range(3)
        ]
        path = write_zip(
            tmp_path / "v.zip", {"memoryEmbeddings": (10007, [json.dumps(r) for r in rows])}
        )
        report = await import_zip(store, path)
        assert any("from 256 to the snapshot's 1024" in note for note in report.notes)
        found = await store.read(
            lambda tx: tx.vector_search(
                "memoryEmbeddings",
                "embedding",
                [0.0, 1.0] + [0.0] * 1022,
                limit=1,
                filter={"playerId": "p:1"},
            )
        )
        assert found[0][0] == rows[1]["_id"]
    finally:
        await store.close()


def test_the_cli_moves_a_town_from_one_database_to_another(tmp_path):
    import subprocess
    import sys

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "smalltown.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    source, target = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    assert cli("worlds", "create", "--database", source).returncode == 0
    assert cli("export", str(tmp_path / "town.zip"), "--database", source).returncode == 0
    result = cli("import", str(tmp_path / "town.zip"), "--database", target)
    assert result.returncode == 0 and "imported" in result.stderr, result.stderr
    listed = cli("worlds", "list", "--database", target).stdout
    assert "(default)" in listed
    again = cli("import", str(tmp_path / "town.zip"), "--database", target)
    assert again.returncode == 1 and "--mode replace" in again.stderr


def _spy_on_writes(monkeypatch):
    """Batches written, by table: proof that writing began before the failure."""
    real_write, written = importer._write_prepared, []

    async def write(store, key, source, rows, *rest):
        written.append((source.table, len(rows)))
        return await real_write(store, key, source, rows, *rest)

    monkeypatch.setattr(importer, "_write_prepared", write)
    return written


async def _imports_left(store):
    return await store.read(lambda tx: tx.count("_smalltown_imports"))


async def test_a_bad_line_after_batches_went_in_empties_the_tables_again(
    store, tmp_path, monkeypatch
):
    monkeypatch.setattr(parallel_check, "ROWS_PER_BATCH", 100)
    written = _spy_on_writes(monkeypatch)
    players = [json.dumps(doc(PLAYERS, i, name=f"p{i}")) for i in range(450)]
    _, lines = uniform_lines()
    lines[1100] = "{not json"
    path = write_zip(
        tmp_path / "late.zip", {"players": (PLAYERS, players), "messages": (MESSAGES, lines)}
    )
    with pytest.raises(SnapshotError, match=r"messages/documents\.jsonl line 1101: not JSON"):
        await import_zip(store, path)
    assert sum(n for table, n in written) >= 450  # players, and messages' first batches
    assert await store.read(lambda tx: tx.count("players")) == 0
    assert await store.read(lambda tx: tx.count("messages")) == 0
    assert await _imports_left(store) == 0  # the next run starts afresh
    # As before: the same tables take a good snapshot, in the mode that wants them empty.
    good = write_zip(tmp_path / "good.zip", {"players": (PLAYERS, players)})
    assert (await import_zip(store, good)).tables["players"] == 450


async def test_an_id_twice_in_a_snapshot_is_refused_and_leaves_the_tables_empty(
    store, tmp_path, monkeypatch
):
    monkeypatch.setattr(parallel_check, "ROWS_PER_BATCH", 100)
    written = _spy_on_writes(monkeypatch)
    _, lines = uniform_lines()
    lines[900] = lines[30]  # a later batch brings an id the first one wrote
    path = write_zip(tmp_path / "twice.zip", {"messages": (MESSAGES, lines)})
    with pytest.raises(StoreError, match=json.loads(lines[30])["_id"]):
        await import_zip(store, path)
    assert sum(n for _, n in written) >= 900
    assert await store.read(lambda tx: tx.count("messages")) == 0
    assert await _imports_left(store) == 0


async def test_into_tables_that_hold_documents_nothing_is_written_before_every_line_passed(
    store, tmp_path, monkeypatch
):
    monkeypatch.setattr(parallel_check, "ROWS_PER_BATCH", 100)
    first = write_zip(tmp_path / "1.zip", {"messages": (MESSAGES, [json.dumps(doc(MESSAGES, 0))])})
    await import_zip(store, first)
    written = _spy_on_writes(monkeypatch)
    _, lines = uniform_lines()
    lines[1100] = "{not json"
    path = write_zip(tmp_path / "late.zip", {"messages": (MESSAGES, lines)})
    with pytest.raises(SnapshotError, match="line 1101: not JSON"):
        await import_zip(store, path, mode="append")
    assert written == []  # the check pass ran to its end first
    assert await store.read(lambda tx: tx.count("messages")) == 1


async def test_a_resumed_import_that_meets_a_bad_line_empties_the_tables_too(
    store, tmp_path, monkeypatch
):
    """The interrupted run found the tables empty; the run that resumes it knows so from
    its progress, and goes back to empty on the bad line the first never reached."""
    monkeypatch.setattr(parallel_check, "ROWS_PER_BATCH", 100)
    _, lines = uniform_lines()
    lines[1100] = "{not json"
    path = write_zip(tmp_path / "late.zip", {"messages": (MESSAGES, lines)})
    with _dying_on_the_third_batch(monkeypatch), pytest.raises(KeyboardInterrupt):
        await import_zip(store, path)
    assert await store.read(lambda tx: tx.count("messages")) == 200
    assert await _imports_left(store) >= 2  # the tables were empty; a batch is done

    with pytest.raises(SnapshotError, match="line 1101: not JSON"):
        await import_zip(store, path)
    assert await store.read(lambda tx: tx.count("messages")) == 0
    assert await _imports_left(store) == 0
