"""``smalltown bench town``: a town run as it is deployed, process by process, and whether
its world steps on time.

On a scratch PostgreSQL database (made on the server ``--database`` reaches, dropped at
the end) and a Redis, the bench starts ``smalltown run`` children: ``--web`` web
processes, ``--runners`` runners and ``--workers`` workers, the workers sharing K LLM
slots. The LLM is :mod:`smalltown.llm.fake_server` on loopback in this process, every
call taking ``--latency`` seconds, with the replies of ``bench agents``. The world has N
agents (the town's map up to 100, beyond it open ground sized to the crowd, as ``bench
bandwidth``'s) and runs at game time 1x. Once every agent has arrived and a warm-up has
passed, ``--minutes`` are measured:

- **step lateness**: how late each step began against when it was due, and its wall time,
  from the ``lateness`` and ``wallMs`` the runner writes on each step record;
- **LLM slots busy** while at least K operations were outstanding (scheduled by a step
  and not finished): the fake LLM's calls in flight, time-weighted, over K;
- **operations finished** a second, and LLM calls;
- **bytes written per step**, from the step records' ``bytesWritten`` when the runner
  records it;
- **page bytes/s**: ``bench bandwidth``'s page-like viewers on the first web process,
  zoomed in (player by player up to 50 agents, else the cells of a 40 x 23-tile view)
  and zoomed out (the overview every 2 s).

Everything is on loopback; a progress line comes every 15 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from smalltown.bench import town_figures
from smalltown.bench.agents_bench import DIMS, SlotMeter, _viewed, scripted_reply
from smalltown.bench.bandwidth_bench import FEW_PLAYERS, _measure, _prepare, bench_map, view_cells
from smalltown.bench.scratch import scratch_postgres
from smalltown.bench.stats import percentile
from smalltown.bench.town_processes import Town, TownBenchError, set_nice, split_slots
from smalltown.llm.fake_server import FakeLLM, FakeLLMServer, count_like_a_tokenizer
from smalltown.store import Store
from smalltown.town.schema import open_town_store
from smalltown.worlds.parts import read_world

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
PROGRESS_S = 15.0
POLL_S = 0.2  # between two counts of outstanding operations
ARRIVAL_TIMEOUT_S = 900.0


async def measure(
    agents: int = 1000,
    slots: int = 64,
    web: int = 1,
    runners: int = 1,
    workers: int = 2,
    latency: float = 1.0,
    minutes: float = 3.0,
    warmup: float = 60.0,
    database: str = DEFAULT_SERVER,
    redis: str = DEFAULT_REDIS,
    out: Callable[[str], None] = print,
    time_scale: float = 1.0,
    nice: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Run the town and measure it; the figures (also printed through ``out``).
    ``time_scale`` runs game time faster (a test's residents get talking sooner); lateness
    stays in wall-clock ms. ``nice``: CPU priorities by role (``bench``: this process,
    the LLM's); below 0 ahead of the machine's other work (root only)."""
    if agents < 1 or runners < 1 or web < 0:
        raise TownBenchError("a town needs an agent and a runner")
    split_slots(slots, workers)  # (refused before anything starts)
    fake = FakeLLM(
        dims=DIMS, delay=latency, rule=scripted_reply, count_tokens=count_like_a_tokenizer
    )
    with tempfile.TemporaryDirectory(prefix="smalltown-town-") as folder:
        async with (
            scratch_postgres(database, "smalltown_bench_") as url,
            FakeLLMServer(fake) as llm,
        ):
            town = Town(url, redis, llm.url, Path(folder), time_scale)
            try:
                counts = (web, runners, workers)
                return await _run(
                    town, fake, agents, slots, counts, latency, minutes, warmup, out, nice or {}
                )
            finally:
                with _quiet("uvicorn.error"):  # (calls cut short by the stop: no news)
                    await asyncio.to_thread(town.stop)


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """``logger`` says nothing below CRITICAL while the block runs."""
    found = logging.getLogger(logger)
    level = found.level
    found.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        found.setLevel(level)


async def _run(
    town: Town,
    fake: FakeLLM,
    agents: int,
    slots: int,
    counts: tuple[int, int, int],
    latency: float,
    minutes: float,
    warmup: float,
    out: Callable[[str], None],
    nice: Mapping[str, int],
) -> dict[str, Any]:
    web, runners, workers = counts
    if "bench" in nice:
        set_nice(os.getpid(), nice["bench"], "bench")
    load_before = _load()
    out(
        f"{agents} agents, {slots} LLM slots across {workers} workers "
        f"({'+'.join(map(str, split_slots(slots, workers)))}), {latency:g} s a call; "
        f"{web} web, {runners} runner processes; game time x{town.time_scale:g}"
        + "".join(f"; {role} at nice {n}" for role, n in nice.items())
    )
    world_id = await _prepare(town.database, agents)
    for _ in range(web):
        await asyncio.to_thread(town.start, "web", 1, nice.get("web"))
    for share in split_slots(slots, workers):
        await asyncio.to_thread(town.start, "worker", share, nice.get("worker"))
    for _ in range(runners):
        await asyncio.to_thread(town.start, "runner", 1, nice.get("runner"))
    store = await open_town_store(town.database)
    viewing = asyncio.create_task(_keep_viewed(store, world_id))
    try:
        arrived = time.monotonic()
        await _everyone_in(store, town, world_id, agents)
        out(f"every agent arrived in {time.monotonic() - arrived:.0f} s; warming up {warmup:g} s")
        page = None
        if web:
            first = town.by_role("web")[0]
            page = asyncio.create_task(
                _measure(
                    first.ws_url,
                    first.url,
                    world_id,
                    minutes * 60,
                    warmup,
                    view_cells(bench_map(agents)),
                    False,
                    agents <= FEW_PLAYERS,
                )
            )
        await _watch(town, warmup)
        figures = await _window(store, town, fake, world_id, slots, minutes * 60, out)
        if page is not None:
            rates = await page
            figures["page_bytes_per_s"] = rates["page_bytes_per_s"]
            figures["overview_bytes_per_s"] = rates["overview_bytes_per_s"]
    finally:
        viewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await viewing
        await store.close()
    figures.update(
        agents=agents,
        slots=slots,
        web=web,
        runners=runners,
        workers=workers,
        latency_s=latency,
        nice=dict(nice),
        load_before=load_before,
        load_after=_load(),
    )
    figures.setdefault("page_bytes_per_s", None)
    figures.setdefault("overview_bytes_per_s", None)
    town_figures.report(figures, out)
    return figures


async def _window(
    store: Store,
    town: Town,
    fake: FakeLLM,
    world_id: str,
    slots: int,
    seconds: float,
    out: Callable[[str], None],
) -> dict[str, Any]:
    """Measure for ``seconds``: the steps recorded meanwhile, operations finished, LLM
    calls, and the slot meter fed by the fake LLM and a count of outstanding operations."""
    meter = SlotMeter(slots)
    fake.on_in_flight = meter.set_busy
    first_step = await store.read(lambda tx: town_figures.latest_step(tx, world_id))
    since, calls = time.time() * 1000, -len(fake.requests)
    cpu_before, own_before = town.cpu_by_role(), time.process_time()
    started = time.monotonic()
    next_progress = started + PROGRESS_S
    meter.reset()
    while (left := started + seconds - time.monotonic()) > 0:
        count = await store.read(lambda tx: town_figures.outstanding(tx, 2 * slots))
        meter.operations(count - meter.outstanding)
        calls += len(fake.requests)
        fake.requests.clear()  # (counted: a long run need not keep every prompt)
        _check_alive(town)
        if time.monotonic() >= next_progress:
            next_progress += PROGRESS_S
            await _progress(store, world_id, first_step, meter, time.monotonic() - started, out)
        await asyncio.sleep(min(POLL_S, left))
    wall = time.monotonic() - started
    until = time.time() * 1000
    cpu = {
        role: (used - cpu_before.get(role, 0.0)) / wall for role, used in town.cpu_by_role().items()
    }
    cpu["bench"] = (time.process_time() - own_before) / wall
    utilisation = meter.utilisation()
    fake.on_in_flight = None
    calls += len(fake.requests)
    last_step = await store.read(lambda tx: town_figures.latest_step(tx, world_id))
    rows = await store.read(lambda tx: town_figures.steps_after(tx, world_id, first_step))
    rows = [r for r in rows if r["step"] <= last_step]  # those recorded in the window
    finished = await store.read(lambda tx: town_figures.finished_operations(tx, since, until))
    figures = town_figures.step_figures(rows)
    figures.update(
        wall_s=wall,
        game_seconds_per_s=figures["game_seconds"] / wall,
        slot_utilisation_when_saturated=utilisation,
        saturated_share=meter.saturated_s / max(meter.elapsed_s, 1e-9),
        slot_utilisation_overall=meter.busy_slot_s / max(meter.elapsed_s * slots, 1e-9),
        operations_finished=finished,
        operations_per_s=finished / wall,
        llm_calls=calls,
        llm_calls_per_s=calls / wall,
        cores_by_role=cpu,
        runner_cpu_ms_per_step=cpu.get("runner", math.nan) * wall * 1000 / max(len(rows), 1),
    )
    return figures


async def _progress(
    store: Store,
    world_id: str,
    first_step: int,
    meter: SlotMeter,
    elapsed: float,
    out: Callable[[str], None],
) -> None:
    rows = await store.read(lambda tx: town_figures.steps_after(tx, world_id, first_step))
    lateness = [float(r["lateness"]) for r in rows if "lateness" in r]
    util = meter.utilisation()
    out(
        f"  {elapsed:.0f} s: {len(rows)} steps, lateness p99 {percentile(lateness, 99):.0f} ms; "
        f"slots busy while saturated {'—' if util is None else f'{util:.0%}'}; load "
        f"{_load()}"
    )


async def _everyone_in(store: Store, town: Town, world_id: str, agents: int) -> None:
    """Wait until the world has every agent (a crowd arrives 32 a step)."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while time.monotonic() < deadline:
        world = await store.read(lambda tx: read_world(tx, world_id, ("agents",)))
        if len((world or {}).get("agents", [])) >= agents:
            return
        _check_alive(town)
        await asyncio.sleep(1.0)
    raise TownBenchError(f"the world did not reach {agents} agents in {ARRIVAL_TIMEOUT_S:.0f} s")


async def _watch(town: Town, seconds: float) -> None:
    """Wait ``seconds``, failing as soon as a process stops."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        _check_alive(town)
        await asyncio.sleep(min(1.0, left))


def _check_alive(town: Town) -> None:
    for process in town.exited():
        raise TownBenchError(
            f"the {process.role} process stopped (exit {process.proc.returncode}); its log "
            f"ends:\n{process.log_tail()}"
        )


async def _keep_viewed(store: Store, world_id: str) -> None:
    """Mark the world viewed every 30 s, as a page's heartbeat does, so it never sleeps."""
    while True:
        await store.run(lambda tx: _viewed(tx, world_id))
        await asyncio.sleep(30.0)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def run(**options: Any) -> dict[str, Any]:
    return asyncio.run(measure(**options))
