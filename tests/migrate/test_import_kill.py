"""A real ``smalltown import`` process, killed with SIGKILL mid-import, then run again:
every document ends up in the database exactly once."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from paused_import import PAUSED

from smalltown.bench.synthetic_snapshot import NUMBERS, build_snapshot
from smalltown.migrate.import_zip import fit_schema
from smalltown.runtime.runtime import with_system_tables
from smalltown.server import load_app
from smalltown.store import open_store

from conftest import new_postgres_database

DOCS = 40_000
MIDWAY = 2000  # documents an import has written when it is signalled
SRC = str(Path(__file__).resolve().parents[2] / "src")
PAUSED_IMPORT = Path(__file__).with_name("paused_import.py")


def _count_rows(url: str) -> int:
    """Committed documents, read straight from the database (no store, no locks held)."""
    tables = [f"st_{name}" for name in NUMBERS]
    try:
        if url.startswith("sqlite"):
            with sqlite3.connect(url.split("://", 1)[1][1:], timeout=5) as db:
                return sum(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
        if url.startswith("postgresql"):
            import psycopg

            with psycopg.connect(url, connect_timeout=5) as db:
                return sum(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
        from pymongo import MongoClient

        client = MongoClient(url, serverSelectionTimeoutMS=5000)
        try:
            db = client.get_default_database()
            return sum(db[t].count_documents({}) for t in tables)
        finally:
            client.close()
    except (sqlite3.OperationalError, ImportError) as exc:
        if "no such table" in str(exc):
            return 0  # the importer has not created the tables yet
        raise
    except Exception as exc:  # psycopg: UndefinedTable before the schema is applied
        if "does not exist" in str(exc):
            return 0
        raise


def _start(snapshot: Path, url: str, pause_after: int | None = None) -> subprocess.Popen:
    """``smalltown import``; with ``pause_after``, one that stops between two batches
    once that many documents are in, and says so (``paused_import.py``)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    command = [sys.executable, "-m", "smalltown.cli"]
    if pause_after is not None:
        command = [sys.executable, str(PAUSED_IMPORT), str(pause_after)]
    return subprocess.Popen(
        [*command, "import", str(snapshot), "--database", url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _snapshot_ids(snapshot: Path) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    with zipfile.ZipFile(snapshot) as z:
        for table in NUMBERS:
            lines = z.read(f"{table}/documents.jsonl").decode().splitlines()
            ids[table] = [json.loads(line)["_id"] for line in lines]
    return ids


def _signal_midway(snapshot: Path, url: str, signum: int) -> tuple[int, str]:
    """Start an import that pauses between two batches once ``MIDWAY`` documents are in
    (well short of the end), and once it says so send it ``signum``; it must end within
    30 s. Returns its exit code and what it printed."""
    first = _start(snapshot, url, pause_after=MIDWAY)
    said: list[str] = []
    try:
        for line in first.stderr:  # each line as it comes; the end if the import ends
            said.append(line)
            if PAUSED in line:
                break
        else:
            raise AssertionError(f"the import ended before the signal:\n{''.join(said)}")
        first.send_signal(signum)
        too_slow = threading.Timer(30, first.kill)  # it ends at once, not after the import
        too_slow.start()
        try:
            said.append(first.stderr.read())  # to its end: nothing of the import is left
            first.wait()
        finally:
            too_slow.cancel()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    return first.returncode, "".join(said)


@pytest.fixture(params=["sqlite", "postgres"])
async def kill_url(request, tmp_path):
    """SQLite and PostgreSQL. (On MongoDB a killed client's open transaction holds its
    writes until the server times it out, 60 s by default, so a run at once conflicts.)"""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/kill.db"
    else:
        async for url in new_postgres_database():
            yield url


@pytest.mark.timeout(600)
async def test_sigkill_mid_import_then_rerun_writes_every_document_once(kill_url, tmp_path):
    store_url = kill_url
    snapshot = tmp_path / "town.zip"
    counts = build_snapshot(snapshot, DOCS, vectors=300, dims=64)

    returncode, _ = _signal_midway(snapshot, store_url, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    after_kill = _count_rows(store_url)
    assert MIDWAY <= after_kill < DOCS, after_kill

    second = _start(snapshot, store_url)
    _, stderr = second.communicate(timeout=480)
    assert second.returncode == 0, stderr
    assert "(resumed)" in stderr

    expected = _snapshot_ids(snapshot)
    schema = fit_schema(with_system_tables(load_app("smalltown.town").schema), snapshot)
    store = await open_store(store_url, schema)
    try:
        for table, wanted in expected.items():
            got = await store.read(lambda tx, t=table: tx.query(t))
            got_ids = [d["_id"] for d in got]
            assert len(got_ids) == counts[table] == len(wanted), table
            assert sorted(got_ids) == sorted(wanted), f"{table}: missing or extra documents"
        progress = await store.read(lambda tx: tx.count("_smalltown_imports"))
        assert progress == 0  # a finished import leaves no progress behind
        vectors = await store.read(lambda tx: tx.query("memoryEmbeddings", limit=1))
        assert len(vectors[0]["embedding"]) == 64
    finally:
        await store.close()


@pytest.mark.timeout(300)
def test_ctrl_c_mid_import_exits_at_once_and_a_rerun_finishes(tmp_path):
    """SIGINT: the check pass's thread and processes stop with the writer, nothing waits
    on them, and the command says how to finish."""
    url = f"sqlite:///{tmp_path}/interrupted.db"
    snapshot = tmp_path / "town.zip"
    counts = build_snapshot(snapshot, DOCS, vectors=300, dims=64)
    returncode, stderr = _signal_midway(snapshot, url, signal.SIGINT)
    assert returncode == 130, stderr
    assert "interrupted" in stderr and "run again" in stderr
    assert MIDWAY <= _count_rows(url) < DOCS

    second = _start(snapshot, url)
    _, stderr = second.communicate(timeout=240)
    assert second.returncode == 0, stderr
    assert "(resumed)" in stderr
    assert _count_rows(url) == sum(counts.values())
