"""Which embedder a town uses when no provider is configured, and what all embedders share.

An embedder has ``embedding_model`` (a name that changes whenever its vectors would),
``description`` (for /health and the page) and ``async embed(texts)``. The offline default
is MiniLM (semantic, 384-d); when it cannot load, hashed-word vectors (256-d, not
semantic) stand in, with a warning that says why and how to fix it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Protocol

from smalltown.llm.errors import EmbedderUnavailable
from smalltown.llm.hashed_embeddings import HashedEmbedder
from smalltown.llm.minilm import MiniLMEmbedder

log = logging.getLogger("smalltown.llm")
SETTING = "SMALLTOWN_OFFLINE_EMBEDDINGS"
CHOICES = ("minilm", "hashed")  # as smalltown.config checks at start


class Embedder(Protocol):
    embedding_model: str
    description: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


async def offline_embedder(
    env: dict[str, str] | None = None, minilm: MiniLMEmbedder | None = None
) -> Embedder:
    """MiniLM (``minilm``, or the installed one), loaded and ready; or hashed vectors when
    asked for or when it cannot load."""
    env = dict(os.environ if env is None else env)
    choice = (env.get(SETTING) or "minilm").strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"{SETTING} must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "hashed":
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
