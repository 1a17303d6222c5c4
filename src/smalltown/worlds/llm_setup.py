"""The LLM and embedder a process's agents use, opened as its settings say: the configured
provider (``Settings.llm``, chosen by ``llm/config.py``), or the offline brain when none is,
with the embedder ``SMALLTOWN_EMBEDDINGS`` picks (``llm/embedders.py``)."""

from __future__ import annotations

import logging

from smalltown.config import Settings
from smalltown.llm import LLM, NO_LLM, Embedder, open_provider
from smalltown.llm.embedders import choose_embedder
from smalltown.llm.offline import OfflineBrain

log = logging.getLogger("smalltown.worlds")


async def open_llm(settings: Settings) -> tuple[LLM, Embedder]:
    """The provider ``settings.llm`` names (priced and capped as the settings say) and its
    embedder; with none, the offline brain and an embedder on this machine."""
    config = settings.llm
    if config is None:
        log.warning(
            "%s: agents talk from templates. For real conversations, %s",
            OfflineBrain.description,
            NO_LLM.split(": ", 1)[1],
        )
        return OfflineBrain(), await choose_embedder(None, settings.embeddings)
    provider = open_provider(
        config, prices=settings.llm_prices, concurrency=settings.llm_concurrency
    )
    log.info("agents speak through %s", config.describe())
    return provider, await choose_embedder(provider, settings.embeddings)
