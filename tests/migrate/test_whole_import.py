"""Any Convex app's snapshot moves in and out whole, on every provider: tables no schema
declares are kept (ids, creation times, value types, numbers), nothing is left out unless
a choice names it, and a declared table whose documents do not fit is refused."""

import base64
import hashlib
import json
import math
import os
import subprocess
import sys
import zipfile

import httpx
import pytest

from smalltown.migrate import import_zip as importer
from smalltown.migrate import parallel_check
from smalltown.migrate.export import export_zip
from smalltown.migrate.export_json import dumps
from smalltown.migrate.import_zip import Choices, LeftOutError, import_zip
from smalltown.migrate.source import MismatchError
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Index, Schema, Table, encode_id, open_store
from smalltown.store.ids import new_internal_id
from smalltown.store.validators import v

from helpers import free_port, wait_healthy

POLLS, VOTES, DRAFTS, STORAGE = 10003, 10007, 10011, 10020
NO_APP = with_system_tables(Schema([]))


def new_id(number):
    return encode_id(number, new_internal_id())


def polls(n=5):
    """Documents with the values clean JSON loses: Int64, bytes, special floats, nesting."""
    return [
        {
            "_id": new_id(POLLS),
            "_creationTime": 1773731010136.8516 + i,
            "title": f"poll {i}",
            "n": i,  # Int64
            "big": 2**62 + i,
            "raw": bytes([i % 256, 0, 255]),
            "share": 0.5 + i,
            "nested": {"list": [1.5, {"deep": [b"\x00", None, True]}], "neg": -0.0},
            "nan": math.nan,
            "inf": math.inf,
            "ninf": -math.inf,
        }
        for i in range(n)
    ]


# The shape a legacy export gives the polls table (its clean JSON loses the types above).
POLLS_SHAPE = (
    '{"_creationTime": normalfloat64, "_id": id<10003>, "big": int64, "inf": inf, '
    '"n": int64, "nan": nan, "nested": {"list": array<float64 | {"deep": array<bytes | '
    'null | boolean>}>, "neg": negativezero}, "ninf": negativeinf, "raw": bytes, '
    '"share": float64, "title": string}'
)


def _clean(value):
    """A value as a legacy (clean JSON) export writes it."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [_clean(x) for x in value]
    return {k: _clean(x) if k not in ("_creationTime",) else x for k, x in value.items()}


def votes(poll_ids):
    return [
        {"_id": new_id(VOTES), "_creationTime": 1.8e12 + i, "poll": pid, "weight": 1.0}
        for i, pid in enumerate(poll_ids)
    ]


def stored(i, data):
    meta = {
        "_id": new_id(STORAGE),
        "_creationTime": 1.7e12 + i,
        "sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        "size": len(data),
        "contentType": "text/plain",
    }
    return meta, data


def foreign_snapshot(
    path, uniform=True, polls_docs=None, system_table=False, component_files=False, extra=True
):
    """A snapshot of an app that is not AI Town: its tables, a component, stored files;
    returns the documents by table (the component's under its prefix)."""
    poll_docs = polls_docs if polls_docs is not None else polls()
    tables = {"polls": (POLLS, poll_docs)}
    if extra:
        tables["votes"] = (VOTES, votes([p["_id"] for p in poll_docs[:3]]))
        tables["drafts"] = (DRAFTS, [])
    chat = [{"_id": new_id(10003), "_creationTime": 1.7e12 + i, "n": i} for i in range(2)]
    files = [stored(i, data) for i, data in enumerate([b"hello", b"\x00\x01" * 100])]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("README.md", "a Convex export")
        z.writestr(
            "_tables/documents.jsonl",
            "".join(json.dumps({"name": t, "id": n}) + "\n" for t, (n, _) in tables.items()),
        )
        for table, (_, docs) in tables.items():
            if uniform:
                z.writestr(f"{table}/documents.jsonl", "".join(dumps(d) + "\n" for d in docs))
                z.writestr(f"{table}/generated_schema.jsonl", '"uniform"\n')
            else:
                lines = "".join(json.dumps(_clean(d)) + "\n" for d in docs)
                z.writestr(f"{table}/documents.jsonl", lines)
                shape = POLLS_SHAPE if table == "polls" else f'{{"_id": id<{tables[table][0]}>}}'
                z.writestr(f"{table}/generated_schema.jsonl", json.dumps(shape) + "\n")
        if not extra:  # the app's declared tables alone: an import writes while it checks
            return {"polls": poll_docs}
        z.writestr("_components/chat/_tables/documents.jsonl", '{"name": "lines", "id": 10003}\n')
        z.writestr("_components/chat/lines/documents.jsonl", "".join(dumps(d) + "\n" for d in chat))
        z.writestr("_components/chat/lines/generated_schema.jsonl", '"uniform"\n')
        z.writestr("_storage/documents.jsonl", "".join(dumps(m) + "\n" for m, _ in files))
        for meta, data in files:
            z.writestr(f"_storage/{meta['_id']}", data)
        if system_table:
            jobs = [{"_id": new_id(10099), "_creationTime": 1.7e12 + i} for i in range(2)]
            z.writestr(
                "_scheduled_functions/documents.jsonl", "".join(dumps(j) + "\n" for j in jobs)
            )
        if component_files:
            z.writestr("_components/chat/_storage/documents.jsonl", "")
            z.writestr("_components/chat/_storage/kg2z", b"kept apart")
    found = {t: docs for t, (_, docs) in tables.items()}
    found["_components/chat/lines"] = chat
    found["_storage"] = [m for m, _ in files]
    return found


def _same(a, b):
    """Documents equal value for value and type for type (NaN equals NaN, -0.0 is not 0.0)."""
    return dumps(a) == dumps(b)


async def _database(url):
    """What the database at ``url`` holds: every table it stores (opened with no schema,
    so none is left out), with its documents' exported text."""
    reopened = await open_store(url, Schema([]))
    try:
        names = sorted(reopened.table_numbers)

        async def everything(tx):
            return {n: sorted(dumps(d) for d in await tx.query(n)) for n in names}

        return await reopened.read(everything)
    finally:
        await reopened.close()


def _kept_as_given(database):
    """The tables whose documents keep the snapshot's ids: the app's, and ``_storage``
    (components' and files' bytes are kept in rows of smalltown's own, with ids of theirs)."""
    return {n: docs for n, docs in database.items() if not n.startswith("_") or n == "_storage"}


@pytest.fixture
async def no_app(store_url):
    s = await open_store(store_url, NO_APP)
    yield s
    await s.close()


def _entries(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "legacy"])
async def test_a_foreign_snapshot_comes_in_whole_and_goes_out_unchanged(
    no_app, store_url, tmp_path, uniform
):
    store = no_app
    expected = foreign_snapshot(tmp_path / "in.zip", uniform=uniform)
    report = await import_zip(store, tmp_path / "in.zip")
    counts = {"polls": 5, "votes": 3, "drafts": 0, "_components/chat/lines": 2, "_storage": 2}
    assert report.tables == report.lines == counts and report.shortfall() == {}
    assert report.files == 2 and report.undeclared == ["drafts", "polls", "votes"]
    assert {"polls", "votes", "drafts"} <= store.undeclared
    assert {t: store.table_numbers[t] for t in ("polls", "votes", "drafts")} == {
        "polls": POLLS,
        "votes": VOTES,
        "drafts": DRAFTS,
    }
    for table in ("polls", "votes"):
        got = await store.read(lambda tx, table=table: tx.query(table))
        assert len(got) == len(expected[table])
        for want, have in zip(expected[table], got, strict=True):
            assert _same(want, have), (want, have)
    # the default indexes answer
    newest = await store.read(lambda tx: tx.query("polls", "by_creation_time", order="desc"))
    assert newest[0]["_id"] == expected["polls"][-1]["_id"]
    assert type(newest[0]["big"]) is int and newest[0]["raw"] == bytes([4, 0, 255])
    assert math.copysign(1, newest[0]["nested"]["neg"]) == -1 and math.isnan(newest[0]["nan"])

    # out, in again (replacing everything), out again: the same snapshot, entry for entry
    await export_zip(store, tmp_path / "one.zip", include_storage=True)
    once = _kept_as_given(await _database(store_url))
    again = await import_zip(store, tmp_path / "one.zip", mode="replaceAll")
    assert again.tables == again.lines == counts
    assert _kept_as_given(await _database(store_url)) == once
    await export_zip(store, tmp_path / "two.zip", include_storage=True)
    assert _entries(tmp_path / "one.zip") == _entries(tmp_path / "two.zip")
    with zipfile.ZipFile(tmp_path / "one.zip") as z:
        tables = [json.loads(x) for x in z.read("_tables/documents.jsonl").splitlines()]
        assert {"name": "polls", "id": POLLS} in tables and {
            "name": "drafts",
            "id": DRAFTS,
        } in tables
        exported = [json.loads(x) for x in z.read("polls/documents.jsonl").splitlines()]
    assert [d["_id"] for d in exported] == [d["_id"] for d in expected["polls"]]


async def test_what_an_import_would_leave_out_stops_it_unless_a_flag_names_it(
    no_app, store_url, tmp_path
):
    store = no_app
    path = tmp_path / "s.zip"
    foreign_snapshot(path, system_table=True, component_files=True)
    before = await _database(store_url)
    with pytest.raises(LeftOutError) as refused:
        await import_zip(store, path)
    message = str(refused.value)
    assert "_scheduled_functions (2 documents: --skip-system-tables)" in message
    assert "_components/chat/_storage (1 stored file: --skip-component-files)" in message
    assert await _database(store_url) == before  # nothing written, no table made

    with pytest.raises(LeftOutError, match="skip-component-files") as still:
        await import_zip(store, path, choices=Choices(skip_system_tables=True))
    assert "skip-system-tables" not in str(still.value)
    assert await _database(store_url) == before

    chosen = Choices(skip_system_tables=True, skip_components=True, skip_files=True)
    report = await import_zip(store, path, choices=chosen)
    assert report.tables == report.lines == {"polls": 5, "votes": 3, "drafts": 0}
    assert report.files == 0
    left = " | ".join(report.notes)
    assert "_scheduled_functions: 2 documents left out, as --skip-system-tables asks" in left
    assert "_components/chat/lines: 2 documents left out, as --skip-components asks" in left
    assert "_storage: 2 stored files left out, as --skip-files asks" in left
    assert await store.read(lambda tx: tx.count("_storage")) == 0
    assert await store.read(lambda tx: tx.count("_smalltown_components")) == 0


POLL = {
    "title": v.string(),
    "n": v.int64(),
    "big": v.int64(),
    "raw": v.bytes(),
    "share": v.float64(),
    "nested": v.object({"list": v.array(v.any()), "neg": v.float64()}),
    "nan": v.float64(),
    "inf": v.float64(),
    "ninf": v.float64(),
    "note": v.optional(v.string()),
}
DECLARES_POLLS = with_system_tables(
    Schema([Table("polls", indexes=[Index("by_title", ["title"])], document=POLL)])
)


@pytest.mark.parametrize("extra", [True, False], ids=["with-undeclared", "declared-only"])
async def test_documents_that_do_not_fit_a_declared_table_are_refused(
    store_url, tmp_path, monkeypatch, extra
):
    store = await open_store(store_url, DECLARES_POLLS)
    written = []  # batches that went in before the bad line was found
    real_write = importer._write_prepared

    async def write(*args):
        written.append(len(args[3]))
        return await real_write(*args)

    monkeypatch.setattr(importer, "_write_prepared", write)
    monkeypatch.setattr(parallel_check, "ROWS_PER_BATCH", 50)
    monkeypatch.setattr(parallel_check, "workers", lambda: 0)  # checked here, no pool
    try:
        docs = polls(160 if not extra else 5)
        docs[-2] = {**docs[-2], "share": "half"}  # a field of the wrong type
        foreign_snapshot(tmp_path / "s.zip", polls_docs=docs, extra=extra)
        before = await _database(store_url)
        with pytest.raises(MismatchError) as refused:
            await import_zip(store, tmp_path / "s.zip")
        # declared tables alone are written while checked (and emptied again); with a
        # table to make, nothing is written before every line has passed
        assert (sum(written) > 0) == (not extra)
        assert refused.value.table == "polls" and refused.value.field == "share"
        assert refused.value.id == docs[-2]["_id"]
        assert f"document {docs[-2]['_id']} of polls" in str(refused.value)
        assert "field share must be a float64, got string" in str(refused.value)
        assert await _database(store_url) == before

        missing = polls(2)
        del missing[1]["title"]  # a required field missing
        foreign_snapshot(tmp_path / "m.zip", polls_docs=missing, extra=extra)
        with pytest.raises(MismatchError, match="field title is required and missing"):
            await import_zip(store, tmp_path / "m.zip")
        assert await _database(store_url) == before

        if not extra:
            return  # the choice below is the same whichever way the import writes
        taken = Choices(mismatched_as_undeclared=True)
        report = await import_zip(store, tmp_path / "s.zip", choices=taken)
        assert report.tables["polls"] == report.lines["polls"] == len(docs)
        (note,) = [n for n in report.notes if n.startswith("polls:")]
        assert "--mismatched-as-undeclared" in note and docs[-2]["_id"] in note
        got = await store.read(lambda tx: tx.get(docs[-2]["_id"]))
        assert got["share"] == "half"
    finally:
        await store.close()


def _smalltown(*args, env=None):
    clean = {k: x for k, x in os.environ.items() if not k.startswith("SMALLTOWN_")}
    return subprocess.run(
        [sys.executable, "-m", "smalltown.cli", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_commands_with_no_app_import_list_serve_and_export_any_snapshot(tmp_path):
    """``--app ""`` and ``SMALLTOWN_APP=`` mean no app for import, tables and run (export
    reads the same option: tests/cli/test_shared_options.py)."""
    snapshot = tmp_path / "s.zip"
    foreign_snapshot(snapshot, system_table=True)
    db = f"sqlite:///{tmp_path}/any.db"
    refused = _smalltown("import", str(snapshot), "--database", db, "--app", "")
    assert refused.returncode == 1, refused.stderr
    assert "_scheduled_functions (2 documents: --skip-system-tables)" in refused.stderr

    done = _smalltown(
        "import", str(snapshot), "--database", db, "--skip-system-tables", env={"SMALLTOWN_APP": ""}
    )
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("imported 12 of 12 documents into 5 tables"), last
    assert "_storage 2/2" in last and "polls 5/5" in last and "votes 3/3" in last
    assert "_scheduled_functions: 2 documents left out, as --skip-system-tables asks" in done.stderr

    listed = _smalltown("tables", "--database", db, "--app", "")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["polls"][:4] == ["polls", str(POLLS), "5", "no"]
    assert rows["drafts"][:4] == ["drafts", str(DRAFTS), "0", "no"]
    assert listed.stdout.splitlines()[0].split() == [
        "table",
        "number",
        "documents",
        "declared",
        "indexes",
    ]

    port, key = free_port(), "an-admin-key-for-this-test"
    env = {"SMALLTOWN_DATABASE_URL": db, "SMALLTOWN_ADMIN_KEY": key}
    clean = {k: x for k, x in os.environ.items() if not k.startswith("SMALLTOWN_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "smalltown.cli", "run", "--app", "", "--port", str(port)],
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server)
        reply = httpx.post(
            f"{url}/api/query",
            json={"path": "_system/cli/tableSize", "args": {"tableName": "polls"}},
            headers={"authorization": f"Convex {key}"},
            timeout=10,
        )
        assert reply.json() == {"status": "success", "value": 5.0, "logLines": []}
    finally:
        server.terminate()
        server.wait(timeout=30)
