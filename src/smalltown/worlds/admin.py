"""World administration for ``smalltown worlds ...``, ``memories`` and ``usage`` (works on
the store directly; the town's store is opened by ``town/schema.py: open_town_store``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from smalltown.engine.world_map import WorldMap
from smalltown.store import Store
from smalltown.worlds.creation import Character, create_world
from smalltown.worlds.parts import read_world
from smalltown.worlds.usage import all_worlds_usage

STATUSES = ("running", "stoppedByDeveloper", "inactive")


async def list_worlds(store: Store) -> list[dict[str, Any]]:
    async def read(tx) -> list[dict[str, Any]]:
        out = []
        now = time.time() * 1000
        for status in await tx.query("worldStatus"):
            world = await read_world(tx, status["worldId"], ("players", "agents")) or {}
            players = world.get("players", [])
            lease = await tx.first("smalltownLeases", "worldId", eq={"worldId": status["worldId"]})
            out.append(
                {
                    "worldId": status["worldId"],
                    "status": status["status"],
                    "default": status["isDefault"],
                    "agents": len(world.get("agents", [])),
                    "humans": sum(1 for p in players if p.get("human")),
                    "lastViewed": status["lastViewed"],
                    # which process steps it (host:pid:...), while its lease lasts
                    "runner": lease["owner"] if lease and lease["expires"] > now else None,
                }
            )
        return out

    return await store.read(read)


async def set_status(store: Store, world_id: str, status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")

    async def update(tx) -> None:
        found = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
        if found is None:
            raise ValueError(f"no world {world_id!r}; see `smalltown worlds list`")
        fields: dict[str, Any] = {"status": status}
        if status == "running":
            fields["lastViewed"] = time.time() * 1000
        await tx.patch(found["_id"], fields)

    await store.run(update)


async def create(store: Store, world_map: WorldMap, characters: Sequence[Character]) -> str:
    """A new world; the default one if there is none yet."""
    existing = await store.read(
        lambda tx: tx.first("worldStatus", "isDefault", eq={"isDefault": True})
    )
    return await create_world(store, world_map, characters, default=existing is None)


async def reset_memories(store: Store) -> int:
    """Delete every memory and memory embedding (after changing the embedding model)."""
    return sum([await store.delete_all(t) for t in ("memories", "memoryEmbeddings")])


async def llm_usage(
    store: Store, tokens_per_hour: int | None, now: float | None = None
) -> list[dict[str, Any]]:
    """Every world's LLM usage as ``world:llmUsage`` gives it, with the budget
    ``tokens_per_hour`` sets (the settings' SMALLTOWN_LLM_TOKENS_PER_HOUR)."""
    moment = time.time() if now is None else now
    return await store.read(lambda tx: all_worlds_usage(tx, moment, tokens_per_hour))
