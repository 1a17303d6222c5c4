"""Rebuild a world from its first state and its input log, and compare with what is stored.

The engine is deterministic, so replaying every saved step (its start, length and the
inputs it took) from the world's first state must give the stored world exactly, with the
same engine version. A difference means a rule changed or state was written outside the
engine. Once a world's old history is pruned (``history.py``), its "first state" is the
checkpoint the kept history starts from: the steps after it, and the inputs after the
last one it had taken.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from smalltown.engine.engine import ENGINE_VERSION, Input, step
from smalltown.engine.state import World
from smalltown.engine.world_map import WorldMap
from smalltown.store import Range, Store, Transaction
from smalltown.worlds import parts


@dataclass(frozen=True)
class ReplayReport:
    world_id: str
    steps: int
    inputs: int
    equal: bool
    detail: str
    after_step: int = -1  # the step the replay started after (-1: from the very first)


PAGE = 2000  # step records read at a time, with their inputs: memory stays flat


async def replay(store: Store, world_id: str, page: int = PAGE) -> ReplayReport:
    async def load(tx):
        status = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
        if status is None:
            raise ValueError(f"no world {world_id!r}; see `smalltown worlds list`")
        initial = await tx.first("smalltownInitialWorlds", "worldId", eq={"worldId": world_id})
        if initial is None:
            raise ValueError(
                f"world {world_id} has no recorded first state (imported?); it gains one "
                "at its first hourly checkpoint"
            )
        own = await tx.first(parts.OWN, "worldId", eq={"worldId": world_id})
        return (
            initial,
            await tx.get(status["engineId"], table="engines"),
            await tx.first("maps", "worldId", eq={"worldId": world_id}),
            await parts.load(tx, world_id, own),
            # the stored world is this step's outcome: replay stops there
            await tx.first("smalltownSteps", "worldStep", eq={"worldId": world_id}, order="desc"),
            own,
        )

    base, engine, map_doc, stored, newest, own = await store.read(load)
    world = World.from_document(base["world"])
    world_map = WorldMap.from_document(map_doc)
    seed = int(own["seed"] if own else engine.get("smalltownSeed", 0))
    after = int(base.get("afterStep", -1))
    done, previous = after, int(base.get("lastInput", -1))
    end = after if newest is None else int(newest["step"])
    steps = used = 0
    while done < end:
        records, inputs = await store.read(
            functools.partial(
                _page,
                world_id=world_id,
                engine_id=engine["_id"],
                done=done,
                end=end,
                taken=previous,
                limit=page,
            )
        )
        missing = _first_missing(records, done + 1)
        if missing is not None:
            detail = f"step {missing} is missing: was history pruned meanwhile? run it again"
            return ReplayReport(world_id, steps, used, False, detail, after)
        by_number = {int(i["number"]): i for i in inputs}
        for record in records:
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
            steps += 1
        done = int(records[-1]["step"])
    rebuilt = world.to_document(bookkeeping=True)
    stored_doc = stored.document  # the world as the runner would load it
    equal = rebuilt == stored_doc
    detail = (
        "the replayed world equals the stored one" if equal else _difference(rebuilt, stored_doc)
    )
    return ReplayReport(world_id, steps, used, equal, detail, after)


def _first_missing(records: list[dict], first: int) -> int | None:
    """The first step number from ``first`` on that ``records`` lacks (None: they run on
    from it without a gap, and there is at least one)."""
    expected = first
    for record in records:
        if int(record["step"]) != expected:
            return expected
        expected += 1
    return first if not records else None


async def _page(
    tx: Transaction, world_id: str, engine_id: str, done: int, end: int, taken: int, limit: int
) -> tuple[list[dict], list[dict]]:
    """The next step records after step ``done`` (up to ``end``), and the inputs they took
    (those after input ``taken``)."""
    records = await tx.query(
        "smalltownSteps",
        "worldStep",
        eq={"worldId": world_id},
        range=Range("step", gt=float(done), lte=float(end)),
        limit=limit,
    )
    if not records:
        return [], []
    inputs = await tx.query(
        "inputs",
        "byInputNumber",
        eq={"engineId": engine_id},
        range=Range("number", gt=float(taken), lte=records[-1]["lastInput"]),
    )
    return records, inputs


def _difference(rebuilt: dict, stored: dict) -> str:
    for key in sorted(set(rebuilt) | set(stored)):
        if rebuilt.get(key) != stored.get(key):
            return f"they differ in {key!r}"
    return "they differ"
