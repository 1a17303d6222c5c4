"""``smalltown bench writes``: the bytes a world step writes to the database.

A world of N agents on an open map sized to the crowd (``bench engine``'s) is stepped by
the real runner, one-second steps on a game clock of its own, on a store of the given URL
(default a temporary SQLite file); every operation is answered at once with canned text,
as inputs in a transaction of their own. Each step records the encoded size of its
transaction (``smalltownSteps.bytesWritten``, the store's byte counter); the bench reports
their p50, mean and maximum over the measured steps, beside the size of the world as
AI Town's ``worlds`` document (``world:worldState`` gives it), which a runner that saved
the whole world each step would write at least.
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
    bytes those steps wrote."""
    town = await SteppedTown.open(url, crowd_map(agents), agents)
    try:
        while len((await town.world())["agents"]) < agents:
            await town.step()
        for _ in range(WARM_UP_STEPS):
            await town.step()
        first = town.steps
        for _ in range(steps):
            await town.step()
        records = await town.store.read(
            lambda tx: tx.query(
                "smalltownSteps",
                "worldStep",
                eq={"worldId": town.world_id},
                range=Range("step", gte=float(first)),
            )
        )
        written = [r["bytesWritten"] for r in records]
        world = await town.world()
        document = {k: v for k, v in world.items() if not k.startswith("_")}
        return {
            "agents": agents,
            "steps": len(written),
            "bytes_p50": percentile(written, 50),
            "bytes_mean": sum(written) / len(written),
            "bytes_max": max(written),
            "world_document_bytes": len(values.dumps(document).encode()),
        }
    finally:
        await town.close()


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
            f"({figures['steps']} steps); the world document is "
            f"{figures['world_document_bytes']:,} bytes "
            f"(p50 {figures['bytes_p50'] / figures['world_document_bytes']:.1%} of it)"
        )
    return results
