"""The check pass on several processes prepares exactly what one process does, and
reports the same first bad line in the same words."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from smalltown.migrate import parallel_check
from smalltown.migrate.import_zip import ImportReport, SnapshotError, _sources, check
from smalltown.migrate.snapshot import Snapshot
from smalltown.migrate.spool import Spool
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Index, Schema, Table, VectorIndex, encode_id
from smalltown.store.ids import new_internal_id

from helpers import wait_for

SRC = str(Path(__file__).resolve().parents[2] / "src")
NOTES, VECS = 10004, 10007
SCHEMA = with_system_tables(
    Schema(
        [
            Table("notes", indexes=[Index("by_author", ["author"])]),
            Table(
                "vecs",
                vector_indexes=[VectorIndex("embedding", "embedding", 3, filter_fields=["p"])],
            ),
        ]
    )
)


def _doc(number, i, **fields):
    return {
        "_id": encode_id(number, new_internal_id()),
        "_creationTime": 1773731010136.25 + i,
        **fields,
    }


def _zip(path, tables, numbered=True):
    with zipfile.ZipFile(path, "w") as z:
        if numbered:
            z.writestr(
                "_tables/documents.jsonl",
                "".join(json.dumps({"name": t, "id": n}) + "\n" for t, (n, _) in tables.items()),
            )
        for name, (_, lines) in tables.items():
            z.writestr(f"{name}/documents.jsonl", "".join(line + "\n" for line in lines))
            z.writestr(f"{name}/generated_schema.jsonl", '"uniform"\n')
    return path


def _lines(count=700):
    notes = [
        json.dumps(_doc(NOTES, i, author=f"a{i % 5}", n=i, big=2**60 + i, f=i / 7))
        for i in range(count)
    ]
    vecs = [
        json.dumps(_doc(VECS, i, p=f"p{i % 2}", embedding=[i / 3, -1.5, 2.0**-i]))
        for i in range(count)
    ]
    return {"notes": (NOTES, notes), "vecs": (VECS, vecs)}


def _check(path, processes, done=None):
    sources = _sources(Snapshot(path), {"notes", "vecs"}, ImportReport())
    spool = Spool()
    numbers = check(sources, SCHEMA, spool, done, processes=processes)
    batches = {
        label: [(last, [(r.id, r.number, r.creation_time, r.encoded, r.keys,
                         {k: (e.vector.tolist(), e.filters) for k, e in r.vectors.items()})
                        for r in rows])
                for last, rows in spool.batches(label)]
        for label in ("notes/documents.jsonl", "vecs/documents.jsonl")
    }  # fmt: skip
    spool.close()
    return numbers, batches


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(parallel_check, "ROWS_PER_BATCH", 100)  # 7 chunks an entry


@pytest.mark.parametrize("numbered", [True, False])
def test_several_processes_spool_what_one_does(tmp_path, numbered):
    path = _zip(tmp_path / "s.zip", _lines(), numbered)
    one = _check(path, 0)
    assert one[0] == {"notes": NOTES, "vecs": VECS}
    assert [len(rows) for _, rows in one[1]["notes/documents.jsonl"]] == [100] * 7
    assert _check(path, 2) == one
    done = {"notes/documents.jsonl": (250, 250)}  # an interrupted run committed these
    resumed = _check(path, 2, done)
    assert resumed == _check(path, 0, done)
    first_line = zipfile.ZipFile(path).read("notes/documents.jsonl").split(b"\n")[250]
    first_row = resumed[1]["notes/documents.jsonl"][0][1][0]
    assert first_row[0] == json.loads(first_line)["_id"]  # line 251: the first not written


def _error(path, processes):
    with pytest.raises(SnapshotError) as raised:
        _check(path, processes)
    return str(raised.value)


BAD = {
    "not JSON": ("notes", 612, lambda line: line[:-1], "notes/documents.jsonl line 613: not JSON"),
    "bad value": ("notes", 450, lambda line: line.replace('"a0"', '{"$bad": 1}'), "line 451: "),
    "vector size": (
        "vecs",
        530,
        lambda line: json.dumps(_doc(VECS, 1, p="x", embedding=[1.0, 2.0])),
        "vecs/documents.jsonl line 531: embedding has 2 dimensions, but earlier documents",
    ),
    "other table": (
        "vecs",
        640,
        lambda line: json.dumps(_doc(NOTES, 1, p="x")),
        "vecs/documents.jsonl line 641: id",
    ),
}


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("numbered", [True, False])
def test_the_first_bad_line_is_reported_as_one_process_would(tmp_path, bad, numbered):
    table, index, spoil, expected = BAD[bad]
    tables = _lines()
    lines = tables[table][1]
    lines[index] = spoil(lines[index])
    lines[680] = lines[680].replace('"_id"', '"_idx"')  # a later bad line, in a later chunk
    path = _zip(tmp_path / "bad.zip", tables, numbered)
    message = _error(path, 2)
    assert expected in message
    assert message == _error(path, 0)


def test_vectors_of_another_size_in_chunks_sent_before_any_size_was_known(tmp_path):
    tables = _lines()
    tables["vecs"][1][:100] = [json.dumps(_doc(VECS, i, p="x")) for i in range(100)]
    wrong = [json.dumps(_doc(VECS, i, p="x", embedding=[1.0, 2.0])) for i in range(100)]
    tables["vecs"][1][300:400] = wrong  # each chunk takes the first size it meets
    path = _zip(tmp_path / "odd.zip", tables)
    message = _error(path, 2)
    assert message.startswith("vecs/documents.jsonl line 301: embedding has 2 dimensions")
    assert message == _error(path, 0)


CHECK_FOREVER = """
import sys
from smalltown.migrate.import_zip import ImportReport, _sources, check
from smalltown.migrate.snapshot import Snapshot
from smalltown.migrate.spool import Spool
from test_parallel_check import SCHEMA

if __name__ == "__main__":
    while True:
        sources = _sources(Snapshot(sys.argv[1]), {"notes", "vecs"}, ImportReport())
        with Spool() as spool:
            check(sources, SCHEMA, spool, processes=2)
"""


def _descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_checking_processes_end_when_the_import_is_killed(tmp_path):
    path = _zip(tmp_path / "s.zip", _lines(6000))
    script = tmp_path / "check_forever.py"
    script.write_text(CHECK_FOREVER)
    here = Path(__file__).parent  # the script imports this module, which imports helpers
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(here), str(here.parent)])}
    child = subprocess.Popen([sys.executable, str(script), str(path)], env=env)

    def checking() -> list[int] | None:
        assert child.poll() is None, "the import ended before its checking processes began"
        found = _descendants(child.pid)
        return found if len(found) >= 4 else None  # fork server, tracker, 2 checkers

    try:
        helpers = wait_for(checking, "the import's checking processes", 60, interval=0.05)
    finally:
        child.kill()
        child.wait()
    wait_for(
        lambda: not any(_alive(pid) for pid in helpers),
        "the checking processes to end with the import",
        interval=0.05,
    )


def test_a_checking_process_that_dies_midway_hands_each_batch_over_once(tmp_path, monkeypatch):
    """The write pass may already hold an entry's first batches when a checking process
    dies and the entry is checked again from its start: those are not handed over twice."""
    import asyncio
    import signal
    import threading

    from smalltown.migrate.handoff import Handoff

    path = _zip(tmp_path / "d.zip", _lines())
    pools = []
    real_pool_now = parallel_check.Checker._pool_now

    def pool_now(self):
        pool = real_pool_now(self)
        if pool not in pools:
            pools.append(pool)
        return pool

    monkeypatch.setattr(parallel_check.Checker, "_pool_now", pool_now)
    sources = _sources(Snapshot(path), {"notes", "vecs"}, ImportReport())
    notes = sources[0]
    real_lines = notes.lines

    def lines_then_a_death():
        for n, line in real_lines():
            if n == 450 and pools and not pools[0]._broken:  # chunks 2-4 are out
                pid, victim = next(iter(pools[0]._processes.items()))
                os.kill(pid, signal.SIGKILL)
                # Dead before the next chunk goes. (Not "the pool is broken": a process
                # killed while sending a result leaves the pool waiting for the rest of
                # it, until the checker's own watch breaks that wait.)
                wait_for(lambda p=victim: p.exitcode is not None, "the killed process to end")
            yield n, line

    notes.lines = lines_then_a_death
    handoff = Handoff(depth=1)  # batches cross one by one
    outcome = {}

    def run_check():
        try:
            check(sources, SCHEMA, handoff, processes=2, interrupt=handoff.interrupt)
        except BaseException as exc:
            outcome["error"] = exc
            handoff.end(exc)
            return
        handoff.end()

    async def write():
        return [
            (label, last, [r.id for r in rows]) async for label, (last, rows) in handoff.batches()
        ]

    thread = threading.Thread(target=run_check)
    thread.start()
    got = asyncio.run(write())
    thread.join(30)
    assert "error" not in outcome
    assert len(pools) == 1 and pools[0]._broken  # the death was seen, and survived
    notes_ids = [id for label, _, ids in got if label == "notes/documents.jsonl" for id in ids]
    assert len(notes_ids) == 700 and len(set(notes_ids)) == 700
    lasts = [last for label, last, _ in got if label == "notes/documents.jsonl"]
    assert lasts == list(range(100, 701, 100))
    vec_ids = [id for label, _, ids in got if label == "vecs/documents.jsonl" for id in ids]
    assert len(set(vec_ids)) == len(vec_ids) == 700


def big_result(megabytes: int) -> bytes:
    """Run in a checking process: a result far larger than a pipe holds."""
    return b"x" * (megabytes << 20)


def test_a_process_killed_while_sending_its_result_breaks_the_pool_instead_of_hanging():
    """concurrent.futures alone would wait for ever on the half-sent result."""
    import select
    import signal
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with parallel_check.Checker(processes=1) as checker:
        pool = checker._pool_now()
        assert pool.submit(big_result, 0).result(timeout=60) == b""  # the process is up
        (pid,) = list(pool._processes)
        future = pool.submit(big_result, 512)
        reader = pool._result_queue._reader
        assert select.select([reader], [], [], 30)[0], "no result began to arrive"
        os.kill(pid, signal.SIGKILL)  # halfway through writing 512 MB
        with ThreadPoolExecutor(1) as waiter:
            waiting = waiter.submit(checker._result, future)
            with pytest.raises(BrokenProcessPool):
                waiting.result(timeout=60)
