"""The town's background service, as the server loads it (``<app>.service.start``): the
machinery that keeps worlds running (:mod:`smalltown.worlds.service`), started with this
town's map and residents for a new database's default world; maps made by an earlier
version are brought up to date first."""

from __future__ import annotations

from smalltown.config import Settings
from smalltown.store import Store
from smalltown.town.defaults import CHARACTERS, fountain_as_tiles, town_map
from smalltown.worlds.service import WorldsService
from smalltown.worlds.service import start as start_worlds


async def start(runtime, settings: Settings) -> WorldsService:
    await upgrade_maps(runtime.store)
    return await start_worlds(runtime, settings, town_map(), CHARACTERS)


async def upgrade_maps(store: Store) -> int:
    """Town maps whose fountain was a sprite AI Town's page cannot draw get its basin as
    tiles (``defaults.fountain_as_tiles``); how many changed. One transaction, so
    processes starting together change each map once."""

    async def upgrade(tx) -> int:
        changed = 0
        for world_map in await tx.query("maps"):
            new = fountain_as_tiles({k: v for k, v in world_map.items() if k[0] != "_"})
            if new is not None:
                await tx.replace(world_map["_id"], new)
                changed += 1
        return changed

    return await store.run(upgrade)
