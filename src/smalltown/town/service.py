"""What the town runs beside the server: the default world, and the runner."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time

from smalltown.engine.state import World
from smalltown.llm import LLM, NO_LLM, config_from_env, open_provider
from smalltown.llm.budget import tokens_per_hour_from_env
from smalltown.llm.config import concurrency_from_env
from smalltown.llm.embedders import choose_embedder
from smalltown.llm.offline import OfflineBrain
from smalltown.llm.prices import prices_from_env
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.history import history_days_from_env, prune_all
from smalltown.town.inputs import insert_input
from smalltown.town.memory_index import fit_memory_index
from smalltown.town.runner import WorldRunner
from smalltown.town.usage import all_worlds_usage, world_gauges

log = logging.getLogger("smalltown.town")


#: ids a world may allocate (players, agents, conversations, operations) before reaching
#: the next world's: at one a second, over a century
ID_BLOCK = 2**32


async def first_free_id(tx) -> int:
    """Where a new world's ids start: in a block of its own, past every world's so far.

    Memories are kept by player id alone, as AI Town keeps them (its schema has no world
    in them, and an export must fit that schema), so two worlds that both had a ``p:0``
    would share that player's memories.
    """
    used = [w.get("nextId") for w in await tx.query("worlds")]
    highest = max(
        (int(n) for n in used if isinstance(n, (int, float)) and 0 <= n < 2**53), default=-1
    )
    return (highest // ID_BLOCK + 1) * ID_BLOCK if used else 0


async def create_world(store, world_map=None, characters=CHARACTERS, default=True) -> str:
    """A new world with its map, engine and residents (they arrive with the first step)."""
    return await store.run(lambda tx: _create(tx, world_map, characters, default))


async def default_world(store) -> tuple[str, bool]:
    """The default world, made now if there is none: its id, and whether it is new. One
    transaction, so processes starting together on an empty database make one world."""

    async def ensure(tx) -> tuple[str, bool]:
        found = await tx.first("worldStatus", "isDefault", eq={"isDefault": True})
        if found is not None:
            return found["worldId"], False
        return await _create(tx, None, CHARACTERS, True), True

    return await store.run(ensure)


async def _create(tx, world_map, characters, default: bool) -> str:
    """``create_world`` inside a transaction."""
    world_map = world_map or town_map()
    now = time.time() * 1000
    first = World(next_id=await first_free_id(tx)).to_document()
    world_id = await tx.insert("worlds", first)
    await tx.insert("smalltownInitialWorlds", {"worldId": world_id, "world": first})
    engine_id = await tx.insert(
        "engines",
        {
            "currentTime": now,
            "lastStepTs": now,
            "processedInputNumber": -1.0,
            "running": True,
            "generationNumber": 0.0,
            "smalltownSeed": float(secrets.randbelow(2**31)),
            "smalltownStep": 0.0,
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


class TownService:
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


async def start(runtime) -> TownService:
    world_id, created = await default_world(runtime.store)
    if created:
        log.info("created the default world %s with %d residents", world_id, len(CHARACTERS))
    config = config_from_env()
    tokens_per_hour = tokens_per_hour_from_env()  # each world's; see smalltown.town.usage
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
    return TownService(runner, llm, pruner)
