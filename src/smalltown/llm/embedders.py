"""Which embedder a town uses (what an embedder is: :class:`~smalltown.llm.base.Embedder`).

``SMALLTOWN_EMBEDDINGS`` (read with the other settings, ``smalltown.config``) chooses:
``provider`` (the configured LLM provider's; the default when there is one), ``minilm``
(on this machine, semantic, 384-d; the default otherwise) or ``hashed`` (256-d, shared
words only). When MiniLM cannot load, hashed vectors stand in, with a warning that says
why and how to fix it.
"""

from __future__ import annotations

import logging

from smalltown.llm.base import Embedder
from smalltown.llm.errors import EmbedderUnavailable
from smalltown.llm.hashed_embeddings import HashedEmbedder
from smalltown.llm.minilm import MiniLMEmbedder

log = logging.getLogger("smalltown.llm")
SETTING = "SMALLTOWN_EMBEDDINGS"
CHOICES = ("provider", "minilm", "hashed")  # as smalltown.config checks at start


def choice(asked: str | None, have_provider: bool) -> str:
    """The embedder ``asked`` for (``SMALLTOWN_EMBEDDINGS``; None or empty: the default),
    checked; ValueError says the fix."""
    chosen = (asked or ("provider" if have_provider else "minilm")).strip().lower()
    if chosen not in CHOICES:
        raise ValueError(f"{SETTING} must be one of {', '.join(CHOICES)}, got {chosen!r}")
    if chosen == "provider" and not have_provider:
        raise ValueError(
            f"{SETTING}=provider needs an LLM provider: set OPENAI_API_KEY, LLM_API_URL or "
            "OLLAMA_HOST, or choose minilm"
        )
    return chosen


async def choose_embedder(
    provider: Embedder | None,
    asked: str | None = None,
    minilm: MiniLMEmbedder | None = None,
) -> Embedder:
    """The configured provider, MiniLM (``minilm``, or the installed one) loaded and
    ready, or hashed vectors: as ``asked`` (the settings' ``embeddings``), falling back to
    hashed when MiniLM cannot load."""
    chosen = choice(asked, provider is not None)
    if chosen == "provider" and provider is not None:
        return provider
    if chosen == "hashed":
        return HashedEmbedder()
    embedder = minilm or MiniLMEmbedder()
    try:
        await embedder.ready()
    except EmbedderUnavailable as exc:
        log.warning(
            "semantic offline embeddings are off: %s. Memories are recalled by shared words "
            "only (%s) until that is fixed; or configure an embedding provider",
            exc,
            HashedEmbedder.description,
        )
        return HashedEmbedder()
    return embedder
