"""``smalltown bench writes``: the bytes a world step writes to the database.

A world of N agents on an open map sized to the crowd (``bench engine``'s) is stepped by
the real runner, one-second steps on a game clock of its own, on a store of the given URL
(default a temporary SQLite file); every operation is answered at once with canned text,
as inputs in a transaction of their own. Each step records the encoded size of its
transaction (``smalltownSteps.bytesWritten``, the store's byte counter); the bench reports
their p50, mean and maximum over the measured steps, how many players moved in a step,
beside the size of the world as AI Town's ``worlds`` document (``world:worldState`` gives
it), which a runner that saved the whole world each step would write at least, and the
wall time of a step with its load and save (on shared cores a rough figure). The world's
seed is fixed, so runs of different code step the same world.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from smalltown.bench.engine_bench import answers, crowd_map
from smalltown.bench.stats import percentile
from smalltown.engine.world_map import WorldMap
from smalltown.runtime import Registry, Runtime
from smalltown.store import Range, Store, values
from smalltown.town.schema import open_town_store, schema
from smalltown.worlds.creation import create_world
from smalltown.worlds.inputs import insert_input
from smalltown.worlds.parts import read_world
from smalltown.worlds.runner import WorldRunner

#: steps after the last agent arrived before measuring: its first minute each resident
#: keeps busy where it stands; then walks and talks are under way
WARM_UP_STEPS = 90
SEED = 1
START_MS = 1_796_000_000_000.0  # a morning in December 2026, game time


def characters(agents: int) -> list[dict[str, str]]:
    return [
        {
            "name": f"Resident {n}",
            "character": f"f{n % 8 + 1}",
            "identity": f"Resident {n} lives in the town and likes to talk.",
            "plan": "You want to meet everyone.",
        }
        for n in range(agents)
    ]


class SteppedTown:
    """A world of the town on a store, stepped by the runner on a game clock of its own (a
    second a step), every operation answered at once with canned text."""

    def __init__(self, store: Store, runtime: Runtime, world_id: str, status: dict) -> None:
        self.store, self.runtime, self.world_id = store, runtime, world_id
        self.engine_id = status["engineId"]
        self.clock = [status["lastViewed"]]
        self.operations: list = []
        self.runner = WorldRunner(
            runtime,
            clock=lambda: self.clock[0],
            on_operations=lambda _, ops: self.operations.extend(ops),
        )
        self.steps = 0

    @classmethod
    async def open(cls, url: str, world_map: WorldMap, residents: int) -> Self:
        """A new world of ``residents`` on ``world_map`` in the town's store at ``url``."""
        store = await open_town_store(url)
        try:
            runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
            world_id = await create_world(store, world_map, characters(residents))
            status = await store.read(
                lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": world_id})
            )
        except BaseException:
            await store.close()
            raise
        assert status is not None
        return cls(store, runtime, world_id, status)

    async def close(self) -> None:
        await self.store.close()

    async def step(self) -> None:
        self.clock[0] += 1000
        await self.runner.step_world(self.world_id)
        self.steps += 1
        pending, _ = answers(self.operations, 0)
        self.operations.clear()
        if pending:
            await self.store.run(self._sending(pending))

    async def send(self, name: str, args: dict[str, Any]) -> str:
        return await self.store.run(lambda tx: insert_input(tx, self.engine_id, name, args))

    def _sending(self, pending: list) -> Callable:
        async def send(tx) -> None:
            for item in pending:
                await insert_input(tx, self.engine_id, item.name, item.args)

        return send

    async def world(self) -> dict[str, Any]:
        """AI Town's document of the world, as ``world:worldState`` gives it."""
        found = await self.store.read(lambda tx: read_world(tx, self.world_id))
        assert found is not None
        return found


async def measure(url: str, agents: int, steps: int) -> dict[str, float]:
    """Step a world of ``agents`` until they all arrived and walk, then ``steps`` more; the
    bytes those steps wrote, the world's size after each, and how many players moved."""
    town = await SteppedTown.open(url, crowd_map(agents), agents)
    try:
        # one seed and one start for every run, so that runs of different code step the
        # same world
        await town.store.run(lambda tx: _fix_start(tx, town.world_id))
        town.clock[0] = START_MS
        while len((await town.world())["agents"]) < agents:
            await town.step()
        for _ in range(WARM_UP_STEPS):
            await town.step()
        first = town.steps
        seconds: list[float] = []
        sizes, movers = [], []
        town.runner.observers.append(lambda _, took, __: seconds.append(took))
        for _ in range(steps):
            await town.step()
            world = {k: v for k, v in (await town.world()).items() if not k.startswith("_")}
            sizes.append(len(values.dumps(world).encode()))
            movers.append(len(world.get("historicalLocations", [])))
        records = await town.store.read(
            lambda tx: tx.query(
                "smalltownSteps",
                "worldStep",
                eq={"worldId": town.world_id},
                range=Range("step", gte=float(first)),
            )
        )
        written = [r["bytesWritten"] for r in records]
        return {
            "agents": agents,
            "steps": len(written),
            "bytes_p50": percentile(written, 50),
            "bytes_mean": sum(written) / len(written),
            "bytes_max": max(written),
            "world_document_bytes": sum(sizes) / len(sizes),
            "movers": sum(movers) / len(movers),
            "step_p50_ms": percentile(seconds, 50) * 1000,
        }
    finally:
        await town.close()


async def _fix_start(tx, world_id: str) -> None:
    """The new world's seed ``SEED`` and its game clock at ``START_MS``."""
    own = await tx.first("smalltownWorlds", "worldId", eq={"worldId": world_id})
    await tx.patch(own["_id"], {"seed": float(SEED)})
    status = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
    await tx.patch(status["engineId"], {"currentTime": START_MS, "lastStepTs": START_MS})


def run(
    counts: list[int], steps: int, database: str | None, out: Callable[[str], None] = print
) -> list[dict[str, float]]:
    results = []
    for agents in counts:
        with tempfile.TemporaryDirectory(prefix="smalltown-writes-") as scratch:
            url = database or f"sqlite:///{Path(scratch) / 'writes.db'}"
            figures = asyncio.run(measure(url, agents, steps))
        results.append(figures)
        out(
            f"{agents:>5} agents: a step writes p50 {figures['bytes_p50']:,.0f} bytes, "
            f"mean {figures['bytes_mean']:,.0f}, max {figures['bytes_max']:,.0f} "
            f"({figures['steps']} steps, {figures['movers']:.0f} players moving in each); "
            f"the world document is {figures['world_document_bytes']:,.0f} bytes (mean "
            f"{figures['bytes_mean'] / figures['world_document_bytes']:.0%} of it); "
            f"a step with its load and save took p50 {figures['step_p50_ms']:.0f} ms"
        )
    return results
