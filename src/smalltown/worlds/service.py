"""What runs beside the server for an app of worlds, started and closed together: the
default world, the LLM and embedder (``llm_setup.py``) with their reports
(``reporting.py``), the memory index fitted to the embedder, and, in a process with the
``runner`` role, the runner and the history pruner; each as the process's
:class:`~smalltown.config.Settings` say."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from smalltown.config import Settings
from smalltown.engine.world_map import WorldMap
from smalltown.llm import LLM
from smalltown.runtime.stopping import stop_tasks
from smalltown.worlds.creation import Character, default_world
from smalltown.worlds.history import start_pruner
from smalltown.worlds.llm_setup import open_llm
from smalltown.worlds.memory_index import fit_memory_index
from smalltown.worlds.meter import UsageLog
from smalltown.worlds.reporting import gauges_report, health_report
from smalltown.worlds.runner import WorldRunner

log = logging.getLogger("smalltown.worlds")


class WorldsService:
    """The runner, the history pruner and the LLM client, closed together when the server
    stops."""

    def __init__(
        self, runner: WorldRunner | None, llm: LLM, pruner: asyncio.Task | None = None
    ) -> None:
        self.runner = runner
        self.llm = llm
        self.pruner = pruner

    @property
    def steps(self) -> int:
        return self.runner.steps if self.runner is not None else 0

    @property
    def rounds(self) -> int:
        return self.runner.rounds if self.runner is not None else 0

    async def close(self) -> None:
        await stop_tasks([self.pruner], "the history pruner")
        if self.runner is not None:
            await self.runner.close()
        await self.llm.close()


async def start(
    runtime, settings: Settings, world_map: WorldMap, characters: Sequence[Character]
) -> WorldsService:
    """Everything above, started for ``runtime``; a new database's default world gets
    ``world_map`` and ``characters``. The functions find each world's hourly token budget
    (``world:llmUsage``, the meter) as the runtime's ``llm_tokens_per_hour`` extension."""
    world_id, created = await default_world(runtime.store, world_map, characters)
    if created:
        log.info("created the default world %s with %d residents", world_id, len(characters))
    tokens_per_hour = settings.llm_tokens_per_hour  # each world's; see worlds/usage.py
    llm, embedder = await open_llm(settings)
    runtime.extensions["llm"] = llm
    runtime.extensions["embedder"] = embedder
    runtime.extensions["llm_tokens_per_hour"] = tokens_per_hour
    runtime.extensions["usage_log"] = UsageLog()
    runtime.extensions["input_lane"] = asyncio.Lock()  # (``aiTown/agentOperations.py``)
    runtime.extensions["public_url"] = settings.base_url
    runtime.extensions["viewers_may_freeze"] = settings.viewers_may_freeze
    runtime.extensions["health"] = health_report(llm, embedder, tokens_per_hour)
    runtime.extensions["gauges"] = gauges_report(runtime.store, llm, tokens_per_hour)
    await fit_memory_index(runtime.store, embedder)
    if "runner" not in settings.roles:  # (the LLM stays: a web process's actions use it)
        return WorldsService(None, llm)
    runner = await start_runner(runtime, settings)
    pruner = start_pruner(runtime.store, settings.history_days, runner.owner)
    return WorldsService(runner, llm, pruner)


async def start_runner(runtime, settings: Settings) -> WorldRunner:
    """The runner, stepping ``settings.step_ms`` of game time a step at
    ``settings.time_scale`` times the wall clock."""
    runner = WorldRunner(runtime, step_ms=settings.step_ms, time_scale=settings.time_scale)
    await runner.start()
    return runner
