"""What runs beside the server for an app of worlds: the default world, the runner, the
history pruner, and the LLM with its health and gauges."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence

from smalltown.engine.world_map import WorldMap
from smalltown.llm import LLM, NO_LLM, config_from_env, open_provider
from smalltown.llm.budget import tokens_per_hour_from_env
from smalltown.llm.config import concurrency_from_env
from smalltown.llm.embedders import choose_embedder
from smalltown.llm.offline import OfflineBrain
from smalltown.llm.prices import prices_from_env
from smalltown.worlds.creation import Character, default_world
from smalltown.worlds.history import history_days_from_env, prune_all
from smalltown.worlds.memory_index import fit_memory_index
from smalltown.worlds.runner import WorldRunner
from smalltown.worlds.usage import all_worlds_usage, world_gauges

log = logging.getLogger("smalltown.worlds")


PRUNE_EVERY_S = 3600.0
PRUNE_FIRST_S = 60.0


async def _prune_forever(store, days: float, owner: str) -> None:
    """The history older than ``days`` of each world this process's runner holds, pruned
    hourly (a first time soon after start, once the runner has taken its worlds)."""
    await asyncio.sleep(PRUNE_FIRST_S)
    while True:
        try:
            await prune_all(store, days, owner)
        except Exception:
            log.exception("pruning old history failed; trying again in an hour")
        await asyncio.sleep(PRUNE_EVERY_S)


class WorldsService:
    """The runner, the history pruner and the LLM client, closed together when the server
    stops."""

    def __init__(self, runner: WorldRunner, llm, pruner: asyncio.Task | None = None) -> None:
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
        if self.llm is not None:
            await self.llm.close()


async def start(runtime, world_map: WorldMap, characters: Sequence[Character]) -> WorldsService:
    """Everything above, started for ``runtime``; a new database's default world gets
    ``world_map`` and ``characters``."""
    world_id, created = await default_world(runtime.store, world_map, characters)
    if created:
        log.info("created the default world %s with %d residents", world_id, len(characters))
    config = config_from_env()
    tokens_per_hour = tokens_per_hour_from_env()  # each world's; see smalltown.worlds.usage
    days = history_days_from_env()  # (settings are read before anything starts)
    llm: LLM = (
        open_provider(config, prices=prices_from_env(), concurrency=concurrency_from_env())
        if config is not None
        else OfflineBrain()
    )
    embedder = await choose_embedder(llm if config is not None else None)
    runtime.extensions["llm"] = llm
    runtime.extensions["embedder"] = embedder

    def health() -> dict:
        """This process's LLM, embedder and usage since start (per world: world:llmUsage)."""
        info = {
            "llm": llm.description,
            "embedder": embedder.description,
            "tokensPerHourPerWorld": tokens_per_hour,
        }
        usage = llm.usage
        if usage is not None:
            info["usage"] = {
                "requests": usage.requests,
                "promptTokens": usage.prompt_tokens,
                "completionTokens": usage.completion_tokens,
                "embeddingTokens": usage.embedding_tokens,
                "failures": usage.failures,
                "lastError": usage.last_error,
            }
        info["cost"] = llm.cost().as_dict()
        return info

    async def gauges() -> dict[str, tuple]:
        """For /metrics: what this process's LLM has used and cost since start (monotonic),
        and each world's usage this hour and over 24 h, from the store."""
        usage = llm.usage
        cost = llm.cost()
        out = {}
        if usage is not None:
            out = {
                "smalltown_llm_requests": ("LLM requests, retries included", usage.requests),
                "smalltown_llm_prompt_tokens": ("LLM prompt tokens", usage.prompt_tokens),
                "smalltown_llm_completion_tokens": (
                    "LLM completion tokens",
                    usage.completion_tokens,
                ),
                "smalltown_llm_embedding_tokens": ("Embedding tokens", usage.embedding_tokens),
                "smalltown_llm_failures": ("LLM calls failed after retries", usage.failures),
            }
        if cost.usd is not None:
            out["smalltown_llm_cost_usd"] = ("Estimated LLM spend, US dollars", cost.usd)
        worlds = await runtime.store.read(
            lambda tx: all_worlds_usage(tx, time.time(), tokens_per_hour)
        )
        return {**out, **world_gauges(worlds)}

    runtime.extensions["health"] = health
    runtime.extensions["gauges"] = gauges
    await fit_memory_index(runtime.store, embedder)
    if config is None:
        log.warning(
            "%s: agents talk from templates. For real conversations, %s",
            llm.description,
            NO_LLM.split(": ", 1)[1],
        )
    else:
        log.info("agents speak through %s", config.describe())
    step = os.environ.get("SMALLTOWN_STEP_MS", "")
    scale = os.environ.get("SMALLTOWN_TIME_SCALE", "")
    runner = WorldRunner(
        runtime,
        step_ms=float(step) if step.isdigit() and int(step) > 0 else 1000,
        time_scale=float(scale) if scale.replace(".", "", 1).isdigit() and float(scale) > 0 else 1,
    )
    await runner.start()
    pruner = None
    if days is not None:
        pruner = asyncio.create_task(
            _prune_forever(runtime.store, days, runner.owner), name="smalltown-history-pruner"
        )
    return WorldsService(runner, llm, pruner)
