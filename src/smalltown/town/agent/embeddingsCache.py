"""``agent/embeddingsCache:*``: vectors already computed, by a hash of the model and the
text (``agents/embeddings.py`` makes the key)."""

from __future__ import annotations

from smalltown.runtime import internal_mutation, internal_query


@internal_query
async def cachedEmbedding(ctx, textHash: bytes) -> list[float] | None:
    found = await ctx.db.first("embeddingsCache", "text", eq={"textHash": textHash})
    return None if found is None else found["embedding"]


@internal_mutation
async def cacheEmbedding(ctx, textHash: bytes, embedding: list[float]) -> None:
    if await ctx.db.first("embeddingsCache", "text", eq={"textHash": textHash}) is None:
        await ctx.db.insert("embeddingsCache", {"textHash": textHash, "embedding": embedding})
