"""The LLM and embedder a process's agents use, opened from the environment: the configured
provider (``llm/config.py``), or the offline brain when none is, with the embedder
``SMALLTOWN_EMBEDDINGS`` picks (``llm/embedders.py``)."""

from __future__ import annotations

import logging

from smalltown.llm import LLM, NO_LLM, Embedder, LLMConfig, open_provider
from smalltown.llm.config import concurrency_from_env
from smalltown.llm.embedders import choose_embedder
from smalltown.llm.offline import OfflineBrain
from smalltown.llm.prices import prices_from_env

log = logging.getLogger("smalltown.worlds")


async def open_llm(config: LLMConfig | None) -> tuple[LLM, Embedder]:
    """The provider ``config`` names (priced and capped as the environment says) and its
    embedder; with no config, the offline brain and an embedder on this machine."""
    if config is None:
        log.warning(
            "%s: agents talk from templates. For real conversations, %s",
            OfflineBrain.description,
            NO_LLM.split(": ", 1)[1],
        )
        return OfflineBrain(), await choose_embedder(None)
    provider = open_provider(config, prices=prices_from_env(), concurrency=concurrency_from_env())
    log.info("agents speak through %s", config.describe())
    return provider, await choose_embedder(provider)
