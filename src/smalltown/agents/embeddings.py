"""Embedding through the town's cache: a text embedded once per model, then read back."""

from __future__ import annotations

import hashlib

from smalltown.agents.town_access import MeteredLLM, TownAccess


def embedding_key(model: str, text: str) -> bytes:
    """The ``embeddingsCache`` key: a vector is only reused for the model that made it."""
    return hashlib.sha256(f"{model}\0{text}".encode()).digest()


async def embed(town: TownAccess, llm: MeteredLLM, text: str) -> list[float]:
    """Embed ``text``, through the cache keyed by a hash of the model and the text."""
    key = embedding_key(llm.embedder.embedding_model, text)
    cached = await town.cached_embedding(key)
    if cached is not None:
        return cached
    (vector,) = await llm.embed([text])
    await town.cache_embedding(key, vector)
    return vector
