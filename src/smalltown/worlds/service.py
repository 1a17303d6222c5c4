"""What runs beside the server for an app of worlds, started and closed together: the
default world, the LLM and embedder (``llm_setup.py``) with their reports
(``reporting.py``), the memory index fitted to the embedder, the runner, and the history
pruner."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

from smalltown.engine.world_map import WorldMap
from smalltown.llm import LLM, config_from_env
from smalltown.llm.budget import tokens_per_hour_from_env
from smalltown.worlds.creation import Character, default_world
from smalltown.worlds.history import history_days_from_env, start_pruner
from smalltown.worlds.llm_setup import open_llm
from smalltown.worlds.memory_index import fit_memory_index
from smalltown.worlds.reporting import gauges_report, health_report
from smalltown.worlds.runner import WorldRunner

log = logging.getLogger("smalltown.worlds")


class WorldsService:
    """The runner, the history pruner and the LLM client, closed together when the server
    stops."""

    def __init__(self, runner: WorldRunner, llm: LLM, pruner: asyncio.Task | None = None) -> None:
        self.runner = runner
        self.llm = llm
        self.pruner = pruner

    @property
    def steps(self) -> int:
        return self.runner.steps

    @property
    def rounds(self) -> int:
        return self.runner.rounds

    async def close(self) -> None:
        if self.pruner is not None:
            self.pruner.cancel()
            await asyncio.gather(self.pruner, return_exceptions=True)
        await self.runner.close()
        await self.llm.close()


async def start(runtime, world_map: WorldMap, characters: Sequence[Character]) -> WorldsService:
    """Everything above, started for ``runtime``; a new database's default world gets
    ``world_map`` and ``characters``."""
    world_id, created = await default_world(runtime.store, world_map, characters)
    if created:
        log.info("created the default world %s with %d residents", world_id, len(characters))
    config = config_from_env()
    tokens_per_hour = tokens_per_hour_from_env()  # each world's; see worlds/usage.py
    days = history_days_from_env()  # (settings are read before anything starts)
    llm, embedder = await open_llm(config)
    runtime.extensions["llm"] = llm
    runtime.extensions["embedder"] = embedder
    runtime.extensions["health"] = health_report(llm, embedder, tokens_per_hour)
    runtime.extensions["gauges"] = gauges_report(runtime.store, llm, tokens_per_hour)
    await fit_memory_index(runtime.store, embedder)
    runner = await start_runner(runtime)
    return WorldsService(runner, llm, start_pruner(runtime.store, days, runner.owner))


async def start_runner(runtime) -> WorldRunner:
    """The runner, stepping ``SMALLTOWN_STEP_MS`` of game time a step (default 1000) at
    ``SMALLTOWN_TIME_SCALE`` times the wall clock (default 1); a value that is not a
    positive number keeps the default."""
    step = os.environ.get("SMALLTOWN_STEP_MS", "")
    scale = os.environ.get("SMALLTOWN_TIME_SCALE", "")
    runner = WorldRunner(
        runtime,
        step_ms=float(step) if step.isdigit() and int(step) > 0 else 1000,
        time_scale=float(scale) if scale.replace(".", "", 1).isdigit() and float(scale) > 0 else 1,
    )
    await runner.start()
    return runner
