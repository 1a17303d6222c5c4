"""Rebuild a world from its first state and its input log, and compare with what is stored.

The engine is deterministic, so replaying every saved step (its start, length and the
inputs it took) from the world's first state must give the stored world exactly, with the
same engine version. A difference means a rule changed or state was written outside the
engine. Once a world's old history is pruned (``history.py``), its "first state" is the
checkpoint the kept history starts from: the steps after it, and the inputs after the
last one it had taken.
"""

from __future__ import annotations

from dataclasses import dataclass

from smalltown.engine.engine import ENGINE_VERSION, Input, step
from smalltown.engine.state import World
from smalltown.engine.world_map import WorldMap
from smalltown.store import Range, Store


@dataclass(frozen=True)
class ReplayReport:
    world_id: str
    steps: int
    inputs: int
    equal: bool
    detail: str
    after_step: int = -1  # the step the replay started after (-1: from the very first)


async def replay(store: Store, world_id: str) -> ReplayReport:
    async def load(tx):
        status = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
        if status is None:
            raise ValueError(f"no world {world_id!r}; see `smalltown worlds list`")
        initial = await tx.first("smalltownInitialWorlds", "worldId", eq={"worldId": world_id})
        if initial is None:
            raise ValueError(f"world {world_id} has no recorded first state (imported?)")
        steps = await tx.query(
            "smalltownSteps",
            "worldStep",
            eq={"worldId": world_id},
            range=Range("step", gt=float(initial.get("afterStep", -1))),
        )
        inputs = await tx.query(
            "inputs",
            "byInputNumber",
            eq={"engineId": status["engineId"]},
            range=Range("number", gt=float(initial.get("lastInput", -1))),
        )
        return (
            initial,
            steps,
            inputs,
            await tx.get(status["engineId"], table="engines"),
            await tx.first("maps", "worldId", eq={"worldId": world_id}),
            await tx.get(world_id, table="worlds"),
        )

    base, steps, inputs, engine, map_doc, stored = await store.read(load)
    world = World.from_document(base["world"])
    world_map = WorldMap.from_document(map_doc)
    seed = int(engine.get("smalltownSeed", 0))
    by_number = {int(i["number"]): i for i in inputs}
    after = int(base.get("afterStep", -1))
    previous = int(base.get("lastInput", -1))
    used = 0
    for record in steps:
        if int(record.get("engineVersion", ENGINE_VERSION)) != ENGINE_VERSION:
            return ReplayReport(
                world_id,
                0,
                0,
                False,
                f"step {int(record['step'])} ran engine version "
                f"{int(record['engineVersion'])}; this is {ENGINE_VERSION}",
                after,
            )
        last = int(record["lastInput"])
        batch = [
            Input(n, by_number[n]["name"], by_number[n]["args"])
            for n in range(previous + 1, last + 1)
            if n in by_number
        ]
        used += len(batch)
        step(
            world,
            world_map,
            batch,
            record["start"],
            seed=seed,
            step_number=int(record["step"]),
            duration=record["duration"],
        )
        previous = last
    rebuilt = world.to_document()
    stored_doc = {k: v for k, v in stored.items() if not k.startswith("_")}
    equal = rebuilt == stored_doc
    detail = (
        "the replayed world equals the stored one" if equal else _difference(rebuilt, stored_doc)
    )
    return ReplayReport(world_id, len(steps), used, equal, detail, after)


def _difference(rebuilt: dict, stored: dict) -> str:
    for key in sorted(set(rebuilt) | set(stored)):
        if rebuilt.get(key) != stored.get(key):
            return f"they differ in {key!r}"
    return "they differ"
