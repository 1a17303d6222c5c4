"""The town's background service, as the server loads it (``<app>.service.start``): the
machinery that keeps worlds running (:mod:`smalltown.worlds.service`), started with this
town's map and residents for a new database's default world."""

from __future__ import annotations

from smalltown.config import Settings
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.worlds.service import WorldsService
from smalltown.worlds.service import start as start_worlds


async def start(runtime, settings: Settings) -> WorldsService:
    return await start_worlds(runtime, settings, town_map(), CHARACTERS)
