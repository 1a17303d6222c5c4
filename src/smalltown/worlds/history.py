"""A world's history, kept for a window of days, then pruned.

Every step leaves a record (``smalltownSteps``) and most leave inputs: at a step a second,
some hundred thousand documents a day for a watched world, which nothing needs for ever.
AI Town deletes inputs older than two weeks; smalltown does the same, without losing
replay: the runner saves a checkpoint of the world every hour (``runner.py``), and pruning
makes the newest checkpoint older than the window the state replay starts from
(``smalltownInitialWorlds``), then deletes the steps, inputs and checkpoints before it.

A world with no recorded first state (an imported one) takes its oldest checkpoint as one
as soon as it has any, so it can be replayed from then on; what came before is deleted
only once it is older than the window too.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from smalltown.store import Range, Store

log = logging.getLogger("smalltown.worlds.history")

DAY_MS = 86_400_000
BATCH = 500
PRUNE_EVERY_S = 3600.0
PRUNE_FIRST_S = 60.0


@dataclass(frozen=True)
class Pruned:
    """What one pruning did: the step replay now starts after (None: it did not move),
    and the documents deleted."""

    world_id: str
    after_step: int | None = None
    steps: int = 0
    inputs: int = 0
    checkpoints: int = 0


async def prune_history(store: Store, world_id: str, before_ms: float) -> Pruned:
    """Move ``world_id``'s replay start to its newest checkpoint taken at or before
    ``before_ms`` (game time), and delete the history that start leaves behind.

    The move is one transaction; the deletions follow a batch a transaction, so a crash
    between them leaves documents replay no longer reads, and the next pruning deletes
    them."""

    async def rebase(tx) -> tuple[dict, dict] | None:
        status = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
        if status is None:
            raise ValueError(f"no world {world_id!r}; see `smalltown worlds list`")
        base = await tx.first("smalltownInitialWorlds", "worldId", eq={"worldId": world_id})
        if base is None:  # imported: its oldest checkpoint, whatever its age
            found = await tx.first("smalltownCheckpoints", "worldStep", eq={"worldId": world_id})
        else:
            found = await tx.first(
                "smalltownCheckpoints",
                "worldTime",
                eq={"worldId": world_id},
                range=Range("time", lte=float(before_ms)),
                order="desc",
            )
        if found is None or found["step"] <= (base or {}).get("afterStep", -1):
            return None
        fields = {
            "worldId": world_id,
            "world": found["world"],
            "afterStep": found["step"],
            "lastInput": found["lastInput"],
        }
        if base is None:
            await tx.insert("smalltownInitialWorlds", fields)
        else:
            await tx.replace(base["_id"], fields)
        return status, found

    moved = await store.run(rebase)
    if moved is None:
        return Pruned(world_id)
    status, checkpoint = moved
    step, last_input = checkpoint["step"], checkpoint["lastInput"]
    if checkpoint["time"] > before_ms:  # an imported world's first checkpoint: keep all
        return Pruned(world_id, after_step=int(step))
    by_world = {"index": "worldStep", "eq": {"worldId": world_id}}
    before_step = Range("step", lte=step)
    pruned = Pruned(
        world_id,
        after_step=int(step),
        steps=await store.delete_all("smalltownSteps", BATCH, **by_world, range=before_step),
        inputs=await store.delete_all(
            "inputs",
            BATCH,
            index="byInputNumber",
            eq={"engineId": status["engineId"]},
            range=Range("number", lte=last_input),
        ),
        checkpoints=await store.delete_all(
            "smalltownCheckpoints", BATCH, **by_world, range=before_step
        ),
    )
    log.info(
        "world %s: history before step %d pruned (%d steps, %d inputs, %d checkpoints)",
        world_id,
        pruned.after_step,
        pruned.steps,
        pruned.inputs,
        pruned.checkpoints,
    )
    return pruned


async def prune_all(store: Store, days: float, owner: str | None = None) -> list[Pruned]:
    """``prune_history`` for every world, keeping the last ``days`` of its game time; with
    ``owner``, only for the worlds whose runner lease it holds (several processes then
    share the work instead of all doing it)."""

    async def clocks(tx) -> list[tuple[str, float]]:
        held = None
        if owner is not None:
            leases = await tx.query("smalltownLeases", "owner", eq={"owner": owner})
            held = {lease["worldId"] for lease in leases}
        out = []
        for status in await tx.query("worldStatus"):
            if held is not None and status["worldId"] not in held:
                continue
            engine = await tx.get(status["engineId"], table="engines")
            if engine is not None:
                out.append((status["worldId"], engine["currentTime"]))
        return out

    return [
        await prune_history(store, world_id, now - days * DAY_MS)
        for world_id, now in await store.read(clocks)
    ]


def start_pruner(store: Store, days: float | None, owner: str) -> asyncio.Task | None:
    """Prune, hourly, the history older than ``days`` of each world the runner ``owner``
    holds (None: keep everything, no pruner)."""
    if days is None:
        return None
    return asyncio.create_task(_prune_forever(store, days, owner), name="smalltown-history-pruner")


async def _prune_forever(store: Store, days: float, owner: str) -> None:
    """A first time soon after start, once the runner has taken its worlds; then hourly."""
    await asyncio.sleep(PRUNE_FIRST_S)
    while True:
        try:
            await prune_all(store, days, owner)
        except Exception:
            log.exception("pruning old history failed; trying again in an hour")
        await asyncio.sleep(PRUNE_EVERY_S)
