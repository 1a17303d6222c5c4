"""What a process running worlds reports: its LLM, embedder, usage and whether the LLM is
failing now (``llmStatus``: "ok" or "degraded", with the outage) for ``/health``, and
gauges for ``/metrics`` (the LLM's use and cost since start, and each world's from the
store). The server finds them as the runtime's ``health`` and ``gauges`` extensions."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from smalltown.llm import LLM, Embedder
from smalltown.store import Store
from smalltown.worlds.usage import all_worlds_usage, world_gauges

Gauges = dict[str, tuple]


def health_report(
    llm: LLM, embedder: Embedder, tokens_per_hour: int | None
) -> Callable[[], dict[str, Any]]:
    def health() -> dict[str, Any]:
        """This process's LLM, embedder and usage since start (per world: world:llmUsage)."""
        info: dict[str, Any] = {
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
        outages = {
            name: outage
            for name, model in (("llm", llm), ("embedder", embedder))
            if (outage := getattr(model, "outage", None)) is not None
        }
        # The town still serves while the LLM fails (agents wait), so it is a degraded
        # state, not an unavailable one; the first call that succeeds clears it.
        info["llmStatus"] = "degraded" if outages else "ok"
        if outages:
            info["llmOutage"] = outages
        return info

    return health


def gauges_report(
    store: Store, llm: LLM, tokens_per_hour: int | None
) -> Callable[[], Awaitable[Gauges]]:
    async def gauges() -> Gauges:
        """For /metrics: what this process's LLM has used and cost since start (monotonic),
        and each world's usage this hour and over 24 h, from the store."""
        usage = llm.usage
        cost = llm.cost()
        out: Gauges = {}
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
        worlds = await store.read(lambda tx: all_worlds_usage(tx, time.time(), tokens_per_hour))
        return {**out, **world_gauges(worlds)}

    return gauges
