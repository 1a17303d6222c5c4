"""What ``smalltown bench town`` reads back from the database, whichever process wrote it:
the step records the runner left (their ``lateness``, ``wallMs`` and, where the runner
records it, ``bytesWritten``), agents' operations outstanding and finished; and the figures
made of them, with the goals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from smalltown.bench.agents_bench import OPERATIONS, slot_use
from smalltown.bench.stats import percentile
from smalltown.runtime.context import SCHEDULED
from smalltown.store import Range, Transaction

LATENESS_GOAL_MS = 100.0  # step lateness p99
SLOTS_GOAL = 0.9  # LLM slots busy while at least K operations wait


async def latest_step(tx: Transaction, world_id: str) -> int:
    """The number of the world's latest step record; -1 before its first."""
    row = await tx.first("smalltownSteps", "worldStep", eq={"worldId": world_id}, order="desc")
    return -1 if row is None else int(row["step"])


async def steps_after(tx: Transaction, world_id: str, after: int) -> list[dict[str, Any]]:
    """The world's step records numbered above ``after``, in order."""
    return await tx.query(
        "smalltownSteps",
        "worldStep",
        eq={"worldId": world_id},
        range=Range("step", gt=float(after)),
    )


async def outstanding(tx: Transaction, cap: int) -> int:
    """Agents' operations scheduled and not finished (waiting or running), counted up to
    about ``cap``: whether at least K wait is all the meter asks."""
    count = 0
    for kind in ("pending", "inProgress"):
        jobs = await tx.query(SCHEDULED, "by_state_time", eq={"state.kind": kind}, limit=cap)
        count += sum(1 for job in jobs if job["name"] in OPERATIONS)
    return count


async def finished_operations(tx: Transaction, since_ms: float, until_ms: float) -> int:
    """Agents' operations that finished (succeeded or failed) between the two wall times."""
    count = 0
    for kind in ("success", "failed"):
        jobs = await tx.query(
            SCHEDULED,
            "by_state_completed",
            eq={"state.kind": kind},
            range=Range("completedTime", gte=since_ms, lt=until_ms),
        )
        count += sum(1 for job in jobs if job["name"] in OPERATIONS)
    return count


def step_figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Lateness and wall time p50/p99 of the step records, how many lack a lateness, game
    seconds stepped, and bytes written a step (None when the records do not say)."""
    lateness = [float(r["lateness"]) for r in rows if "lateness" in r]
    wall = [float(r["wallMs"]) for r in rows if "wallMs" in r]
    written = [float(r["bytesWritten"]) for r in rows if "bytesWritten" in r]
    return {
        "steps": len(rows),
        "steps_without_lateness": len(rows) - len(lateness),
        "game_seconds": sum(float(r["duration"]) for r in rows) / 1000,
        "lateness_p50_ms": percentile(lateness, 50),
        "lateness_p99_ms": percentile(lateness, 99),
        "lateness_max_ms": max(lateness, default=float("nan")),
        "steps_late": sum(1 for late in lateness if late > LATENESS_GOAL_MS),
        "wall_p50_ms": percentile(wall, 50),
        "wall_p99_ms": percentile(wall, 99),
        "bytes_per_step": sum(written) / len(written) if written else None,
    }


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "NOT met")


def goals(f: dict[str, Any]) -> dict[str, bool | None]:
    """Each goal met, not met, or None where the run could not tell."""
    lateness = f["lateness_p99_ms"]
    slots = f["slot_utilisation_when_saturated"]
    return {
        "lateness": None if lateness != lateness else lateness <= LATENESS_GOAL_MS,
        "slots": None if slots is None else slots >= SLOTS_GOAL,
    }


def report(f: dict[str, Any], out: Callable[[str], None]) -> None:
    met = goals(f)
    out(
        f"step lateness: p50 {f['lateness_p50_ms']:.1f} ms, p99 {f['lateness_p99_ms']:.1f} ms "
        f"(max {f['lateness_max_ms']:.0f}; {f['steps_late']} later than "
        f"{LATENESS_GOAL_MS:.0f} ms) over {f['steps']} steps; goal p99 <= "
        f"{LATENESS_GOAL_MS:.0f} ms: {_verdict(met['lateness'])}"
    )
    out(
        f"step wall time (load, engine, save; the commit aside): p50 {f['wall_p50_ms']:.1f} ms, "
        f"p99 {f['wall_p99_ms']:.1f} ms; the runner's CPU {f['runner_cpu_ms_per_step']:.0f} ms "
        f"a step; {f['game_seconds_per_s']:.2f} game seconds a second"
    )
    out(f"{slot_use(f, f['slots'])}; goal >= {SLOTS_GOAL:.0%}: {_verdict(met['slots'])}")
    out(
        f"operations: {f['operations_per_s']:.2f}/s finished; {f['llm_calls']} LLM calls "
        f"({f['llm_calls_per_s']:.1f}/s)"
    )
    written = f["bytes_per_step"]
    out(f"bytes written per step: {'n/a' if written is None else f'{written / 1000:,.1f} KB'}")
    page_in, page_out = f["page_bytes_per_s"], f["overview_bytes_per_s"]
    out(
        "page: "
        + (
            "n/a (no web process)"
            if page_in is None
            else f"zoomed in {page_in / 1000:.2f} KB/s, zoomed out {page_out / 1000:.2f} KB/s"
        )
    )
    cores = ", ".join(f"{role} {used:.2f}" for role, used in f["cores_by_role"].items())
    out(f"cores busy in the window, by role (all processes of it): {cores}")
    out(f"load average: {f['load_before']} before, {f['load_after']} after")
