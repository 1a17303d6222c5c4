"""Inputs are numbered in the order they are written, from a counter that a step of the
world never touches: an input written while a step runs does not conflict with it, and an
engine without a counter (imported, or its old inputs pruned) numbers after all it took."""

import asyncio

from smalltown.store import Range, open_store
from smalltown.town.schema import schema
from smalltown.worlds.inputs import COUNTERS, insert_input


async def _engine(store, processed: float = -1.0) -> str:
    return await store.run(
        lambda tx: tx.insert(
            "engines",
            {"currentTime": 0.0, "generationNumber": 0.0, "processedInputNumber": processed},
        )
    )


async def _numbers(store, engine_id: str) -> list[float]:
    found = await store.read(
        lambda tx: tx.query("inputs", "byInputNumber", eq={"engineId": engine_id})
    )
    return [i["number"] for i in found]


async def test_inputs_are_numbered_in_order_from_the_engines_counter(store_url):
    store = await open_store(store_url, schema)
    try:
        engine_id = await _engine(store)
        for n in range(3):
            await store.run(lambda tx, n=n: insert_input(tx, engine_id, "moveTo", {"n": n}))
        assert await _numbers(store, engine_id) == [0.0, 1.0, 2.0]
        (counter,) = await store.read(lambda tx: tx.query(COUNTERS))
        assert counter["engineId"] == engine_id and counter["last"] == 2.0
    finally:
        await store.close()


async def test_an_engine_without_a_counter_numbers_after_its_inputs_and_what_it_took(
    store_url,
):
    """Imported from AI Town: its inputs up to 7, no counter. Pruned: it took up to 40,
    and no input is left."""
    store = await open_store(store_url, schema)
    try:
        imported = await _engine(store, processed=5.0)
        for n in (6.0, 7.0):
            await store.run(
                lambda tx, n=n: tx.insert(
                    "inputs",
                    {"engineId": imported, "number": n, "name": "x", "args": {}, "received": 0.0},
                )
            )
        pruned = await _engine(store, processed=40.0)
        for engine_id in (imported, pruned):
            await store.run(lambda tx, e=engine_id: insert_input(tx, e, "moveTo", {}))
        assert await _numbers(store, imported) == [6.0, 7.0, 8.0]
        assert await _numbers(store, pruned) == [41.0]
    finally:
        await store.close()


async def test_an_input_written_while_a_step_runs_conflicts_with_neither(postgres_url):
    """The step reads the inputs after what its engine took and marks the last one, as
    the runner does; meanwhile an agent's answer is written. Both commit at their first
    attempt (the answer read the last input to number itself: one of the two failed)."""
    store = await open_store(postgres_url, schema)
    try:
        engine_id = await _engine(store)
        await store.run(lambda tx: insert_input(tx, engine_id, "moveTo", {}))
        step_read, answered = asyncio.Event(), asyncio.Event()

        async def step(tx):
            taken = await tx.query(
                "inputs",
                "byInputNumber",
                eq={"engineId": engine_id},
                range=Range("number", gt=-1.0),
            )
            await tx.patch(taken[-1]["_id"], {"returnValue": {"kind": "ok", "value": None}})
            await tx.patch(engine_id, {"processedInputNumber": taken[-1]["number"]})
            step_read.set()
            await answered.wait()

        async def answer():
            await step_read.wait()
            await store.run(
                lambda tx: insert_input(tx, engine_id, "agentFinishMessage", {}), max_attempts=1
            )
            answered.set()

        await asyncio.gather(store.run(step, max_attempts=1), answer())
        assert await _numbers(store, engine_id) == [0.0, 1.0]
    finally:
        await store.close()
