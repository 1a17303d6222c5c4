"""Making worlds: a world's first state, engine, map and status, and its residents' arrival.

A world starts with the map and residents it is given (the town passes its own,
``town/defaults.py``); they arrive as ``createAgent`` inputs, taken by the first step.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from smalltown.engine.state import World
from smalltown.engine.world_map import WorldMap
from smalltown.worlds.inputs import insert_input
from smalltown.worlds.parts import MARKER, OWN, Stored, next_id, save

Character = dict[str, str]  # name, character (sprite), identity, plan, description


#: ids a world may allocate (players, agents, conversations, operations) before reaching
#: the next world's: at one a second, over a century
ID_BLOCK = 2**32


async def first_free_id(tx) -> int:
    """Where a new world's ids start: in a block of its own, past every world's so far.

    Memories are kept by player id alone, as AI Town keeps them (its schema has no world
    in them, and an export must fit that schema), so two worlds that both had a ``p:0``
    would share that player's memories.
    """
    used = [await next_id(tx, w) for w in await tx.query("worlds")]
    highest = max(
        (int(n) for n in used if isinstance(n, (int, float)) and 0 <= n < 2**53), default=-1
    )
    return (highest // ID_BLOCK + 1) * ID_BLOCK if used else 0


async def create_world(
    store, world_map: WorldMap, characters: Sequence[Character], default: bool = True
) -> str:
    """A new world with its map, engine and residents (they arrive with the first step)."""
    return await store.run(lambda tx: _create(tx, world_map, characters, default))


async def default_world(
    store, world_map: WorldMap, characters: Sequence[Character]
) -> tuple[str, bool]:
    """The default world, made now (with this map and these residents) if there is none:
    its id, and whether it is new. One transaction, so processes starting together on an
    empty database make one world."""

    async def ensure(tx) -> tuple[str, bool]:
        found = await tx.first("worldStatus", "isDefault", eq={"isDefault": True})
        if found is not None:
            return found["worldId"], False
        return await _create(tx, world_map, characters, True), True

    return await store.run(ensure)


async def create_in(tx, world_map: WorldMap, characters: Sequence[Character], default: bool) -> str:
    """``create_world`` inside the caller's transaction, which may write more with it."""
    return await _create(tx, world_map, characters, default)


async def _create(tx, world_map: WorldMap, characters: Sequence[Character], default: bool) -> str:
    """``create_world`` inside a transaction."""
    now = time.time() * 1000
    first = World(next_id=await first_free_id(tx))
    world_id = await tx.insert("worlds", {MARKER: True})
    whole = first.to_document(bookkeeping=True)
    await save(tx, world_id, Stored({}, {}, whole=False), whole)
    await tx.insert("smalltownInitialWorlds", {"worldId": world_id, "world": whole})
    await tx.insert(
        OWN, {"worldId": world_id, "seed": float(secrets.randbelow(2**31)), "step": 0.0}
    )
    engine_id = await tx.insert(
        "engines",
        {
            "currentTime": now,
            "lastStepTs": now,
            "processedInputNumber": -1.0,
            "running": True,
            "generationNumber": 0.0,
        },
    )
    await tx.insert("maps", {"worldId": world_id, **world_map.to_document()})
    await tx.insert(
        "worldStatus",
        {
            "worldId": world_id,
            "engineId": engine_id,
            "isDefault": default,
            "lastViewed": now,
            "status": "running",
        },
    )
    for character in characters:
        await insert_input(tx, engine_id, "createAgent", dict(character))
    return world_id
