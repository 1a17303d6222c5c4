"""``smalltown bench town`` at a tiny size, on real processes: a web, a runner and a worker
on a PostgreSQL server and a Redis of the test's own, the fake LLM in the test's process.
The figures come out and make sense: every step record of the window has its lateness,
agents' operations finished, LLM calls were made and the page received bytes."""

from __future__ import annotations

import contextlib
import math

import pytest

from smalltown.bench import town_bench
from smalltown.bench.scratch import ScratchDatabaseError
from smalltown.bench.town_processes import TownBenchError, parse_nice, split_slots
from smalltown.cli import main

from helpers import RedisServer


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.mark.timeout(600)
async def test_a_tiny_town_gives_every_figure(postgres_url, redis_server):
    lines: list[str] = []
    figures = await town_bench.measure(
        agents=5,
        slots=2,
        web=1,
        runners=1,
        workers=1,
        latency=0.05,
        minutes=0.5,
        warmup=5,
        database=postgres_url,  # (a scratch database is made beside it)
        redis=redis_server.url,
        out=lines.append,
        time_scale=10,  # residents meet and talk within the window
    )
    assert figures["steps"] > 0
    assert figures["steps_without_lateness"] == 0
    for name in ("lateness_p50_ms", "lateness_p99_ms", "wall_p50_ms", "wall_p99_ms"):
        assert math.isfinite(figures[name]) and figures[name] >= 0, name
    assert figures["lateness_p50_ms"] <= figures["lateness_p99_ms"]
    assert 0 < figures["wall_p50_ms"] <= figures["wall_p99_ms"]
    assert figures["operations_finished"] > 0 and figures["llm_calls"] > 0
    assert figures["page_bytes_per_s"] > 0 and figures["overview_bytes_per_s"] > 0
    assert figures["bytes_per_step"] is None or figures["bytes_per_step"] > 0
    assert set(figures["cores_by_role"]) == {"web", "runner", "worker", "bench"}
    assert all(used >= 0 for used in figures["cores_by_role"].values())
    report = "\n".join(lines)
    said = ("step lateness: p50", "step wall time", "LLM slots busy", "operations:")
    said += ("bytes written per step:", "page: zoomed in", "cores busy", "load average:")
    assert [line for line in said if line not in report] == []


async def test_a_server_that_cannot_be_reached_is_one_clear_error():
    with pytest.raises(ScratchDatabaseError, match="cannot reach PostgreSQL"):
        await town_bench.measure(agents=1, database="postgresql://nobody@127.0.0.1:1/none")


@pytest.mark.parametrize(
    ("argv", "status", "said"),
    [
        (["--agents", "0"], 2, "--agents: must be a whole number above 0"),
        (["--minutes", "nan"], 2, "--minutes: must be a number of 0.05 or more"),
        (["--slots", "1", "--workers", "2"], 1, "1 LLM slots cannot be shared by 2 workers"),
        (["--nice", "cook=1"], 2, "--nice: expected N or ROLE=N"),
        (["--database", "postgresql://x@127.0.0.1:1/y"], 1, "cannot reach PostgreSQL"),
    ],
)
def test_bad_options_are_one_line_and_start_nothing(capsys, argv, status, said):
    with pytest.raises(SystemExit) if status == 2 else contextlib.nullcontext():
        assert main(["bench", "town", *argv]) == status
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_priorities_are_one_for_all_or_given_by_role():
    assert parse_nice("-5") == {"runner": -5, "worker": -5, "web": -5, "bench": -5}
    assert parse_nice("worker=10, runner=-5") == {"worker": 10, "runner": -5}
    for bad in ("cook=3", "worker=", "worker=x", ""):
        with pytest.raises(ValueError, match="ROLE=N"):
            parse_nice(bad)


def test_slots_are_shared_by_the_workers_as_evenly_as_they_go():
    assert split_slots(64, 2) == [32, 32]
    assert split_slots(10, 3) == [4, 3, 3]
    with pytest.raises(TownBenchError, match="cannot be shared"):
        split_slots(1, 2)  # a worker without a slot
