"""``smalltown bench engine``: CPU per world step with many agents and no LLM.

Agents are created on an open map sized to the crowd, walk, invite, talk and remember;
every operation is answered at once with canned text (as the LLM side would, instantly).
Reports step CPU time p50/p99, CPU per simulated minute, the world document's size
(what a runner that saved the whole world each step would write), and the paths planned
per step (at most ``MAX_PATHFINDS_PER_STEP``; the share of steps that used them all, when
other requests wait for the next step).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from smalltown.bench.stats import percentile
from smalltown.engine.constants import MAX_PATHFINDS_PER_STEP
from smalltown.engine.engine import Input, step
from smalltown.engine.state import World
from smalltown.engine.world_map import EMPTY, WorldMap
from smalltown.runtime import wire


def crowd_map(agents: int) -> WorldMap:
    """Open ground with scattered obstacles, about 40 tiles per agent (AI Town: 64x48)."""
    side = max(48, math.ceil(math.sqrt(agents * 40)))
    width, height = side, side
    objects = [[EMPTY] * height for _ in range(width)]
    for x in range(3, width - 3, 7):
        for y in range(3, height - 3, 5):
            objects[x][y] = 1
    return WorldMap(
        width, height, 32, "tiles.png", 512, 512, [[[0] * height for _ in range(width)]], [objects]
    )


def answers(operations, number: int) -> tuple[list[Input], int]:
    out = []
    for op in operations:
        number += 1
        if op.name == "generateMessage":
            args = {
                "agentId": op.args["agentId"],
                "conversationId": op.args["conversationId"],
                "messageUuid": op.args["messageUuid"],
                "operationId": op.operation_id,
                "leave": op.args["kind"] == "leave",
            }
            out.append(Input(number, "agentFinishMessage", args))
        elif op.name == "makePlan":  # no LLM here: residents keep busy without plans
            args = {"agentId": op.args["agentId"], "operationId": op.operation_id}
            out.append(Input(number, "agentOperationFailed", args))
        elif op.name == "rememberConversation":
            out.append(
                Input(
                    number,
                    "agentFinishRememberConversation",
                    {"agentId": op.args["agentId"], "operationId": op.operation_id},
                )
            )
    return out, number


def run_world(agents: int, minutes: float = 1.0, seed: int = 1) -> dict[str, float]:
    world, world_map = World(), crowd_map(agents)
    now, number, step_number = 1_000_000.0, 0, 0
    creates = []
    for _ in range(agents):
        number += 1
        creates.append(Input(number, "createAgent", {}))
    pending: list[Input] = []
    while creates:  # at most 32 inputs a step
        batch, creates = creates[:32], creates[32:]
        out = step(world, world_map, batch, now, seed=seed, step_number=step_number, duration=0)
        step_number += 1
    cpu: list[float] = []
    searches: list[int] = []
    meeting_searches = 0
    doc_bytes = 0
    for _ in range(int(minutes * 60)):
        started = time.process_time()
        out = step(world, world_map, pending, now, seed=seed, step_number=step_number)
        cpu.append((time.process_time() - started) * 1000)
        searches.append(out.path_searches)
        meeting_searches += out.meeting_searches
        now, step_number = out.end_time, step_number + 1
        pending, number = answers(out.operations, number)
        doc_bytes = len(wire.dumps(wire.encode(world.to_document())))  # as stored and sent
    return {
        "agents": agents,
        "step_p50_ms": percentile(cpu, 50),
        "step_p99_ms": percentile(cpu, 99),
        "cpu_s_per_minute": sum(cpu) / 1000 / minutes,
        "world_document_bytes": doc_bytes,
        "conversations": len(world.conversations),
        "path_searches_per_step": sum(searches) / max(len(searches), 1),
        "meeting_searches_per_step": meeting_searches / max(len(searches), 1),
        "steps_at_search_cap": sum(n >= MAX_PATHFINDS_PER_STEP for n in searches)
        / max(len(searches), 1),
    }


@dataclass
class _Sim:
    """One of many small worlds, between steps."""

    world: World
    world_map: WorldMap
    now: float
    step_number: int
    number: int  # the last input number given
    pending: list[Input] = field(default_factory=list)


def run_many_worlds(worlds: int, agents: int, minutes: float = 1.0) -> dict[str, float]:
    """Many small worlds in one process: CPU to step all of them once (one second each)."""
    sims = []
    for n in range(worlds):
        world, world_map = World(), crowd_map(agents)
        creates = [Input(i + 1, "createAgent", {}) for i in range(agents)]
        step(world, world_map, creates, 1_000_000.0, seed=n, step_number=0, duration=0)
        sims.append(_Sim(world, world_map, 1_000_000.0, 1, agents))
    rounds: list[float] = []
    for _ in range(int(minutes * 60)):
        started = time.process_time()
        for sim in sims:
            out = step(
                sim.world, sim.world_map, sim.pending, sim.now, seed=0, step_number=sim.step_number
            )
            sim.now, sim.step_number = out.end_time, sim.step_number + 1
            sim.pending, sim.number = answers(out.operations, sim.number)
        rounds.append((time.process_time() - started) * 1000)
    return {
        "worlds": worlds,
        "agents": agents,
        "round_p50_ms": percentile(rounds, 50),
        "round_p99_ms": percentile(rounds, 99),
    }


def run(
    counts: list[int],
    minutes: float = 1.0,
    out: Callable[[str], None] = print,
    worlds: int = 50,
    agents_per_world: int = 10,
) -> list[dict[str, float]]:
    results = []
    for agents in counts:
        figures = run_world(agents, minutes)
        results.append(figures)
        out(
            f"{agents:>5} agents: step CPU p50 {figures['step_p50_ms']:.1f} ms, "
            f"p99 {figures['step_p99_ms']:.1f} ms; {figures['cpu_s_per_minute']:.2f} s CPU per "
            f"simulated minute; world document {figures['world_document_bytes']:,} bytes; "
            f"{figures['path_searches_per_step']:.1f} path searches a step "
            f"({figures['meeting_searches_per_step']:.1f} for meetings; all "
            f"{MAX_PATHFINDS_PER_STEP} used in {figures['steps_at_search_cap']:.0%} of steps)"
        )
    if worlds:
        many = run_many_worlds(worlds, agents_per_world, minutes)
        results.append(many)
        out(
            f"{worlds} worlds of {agents_per_world} agents: one step of every world takes "
            f"p50 {many['round_p50_ms']:.1f} ms, p99 {many['round_p99_ms']:.1f} ms of CPU"
        )
    return results
