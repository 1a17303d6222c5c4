"""The memory index follows the embedder: sized to its vectors, re-embedded when it changes.

AI Town hard-codes the vector size, so changing embedding provider fails on the first write
("expected 768, received 1024"). Here the town records which model made its memories'
vectors (``smalltownMemoryIndex``, one document) and, at start, compares that and the
index's size with the embedder it now has. When they differ, every ``memoryEmbeddings`` row
is embedded again from its memory's text, in place (memory ids, importance and the rest
are kept), and the index is rebuilt at the new size:

1. the record says the new model, not yet complete;
2. the vector index is dropped, so vectors of the new size can be written;
3. rows are re-embedded in batches (one transaction each), and ``embeddingsCache`` is
   filled for the new model (the old model's entries are cleared first);
4. the index is built again at the new size, and the record marked complete.

A stop part-way leaves the record incomplete, and the next start (or ``smalltown memories
reembed``) does it again from the beginning: every step can be repeated.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from smalltown.agents.embeddings import embedding_key
from smalltown.llm import Embedder, LLMError
from smalltown.store import Page, Schema, Store, Table, Transaction, VectorIndex

log = logging.getLogger("smalltown.worlds.memory")
RECORD = "smalltownMemoryIndex"
BATCH = 64
REEMBED_COMMAND = "smalltown memories reembed"

Progress = Callable[[int, int], None]


def memory_embeddings(dimensions: int | None, keep_stored: bool = True) -> Table:
    """AI Town's ``memoryEmbeddings``; ``None`` for no vector index (while re-embedding)."""
    if dimensions is None:
        return Table("memoryEmbeddings")
    index = VectorIndex(
        "embedding",
        "embedding",
        dimensions,
        filter_fields=["playerId"],
        keep_stored_dimensions=keep_stored,
    )
    return Table("memoryEmbeddings", vector_indexes=[index])


def embedding_dimensions(schema: Schema) -> int | None:
    """The memory index's size, or None while it is dropped for a re-embedding."""
    indexes = schema.table("memoryEmbeddings").vector_indexes
    return indexes[0].dimensions if indexes else None


class MemoryIndexError(LLMError):
    """Re-embedding could not finish; the message names the command that does it."""


@dataclass(frozen=True)
class Plan:
    """What the stored memories need to match ``model`` at ``dimensions``."""

    model: str
    dimensions: int
    stored_model: str | None
    stored_dimensions: int | None
    rows: int
    complete: bool

    @property
    def reembed(self) -> bool:
        if self.rows == 0:
            return False
        if self.stored_dimensions != self.dimensions or not self.complete:
            return True
        return self.stored_model is not None and self.stored_model != self.model

    @property
    def resize(self) -> bool:
        return self.stored_dimensions != self.dimensions


async def vector_size(embedder: Embedder) -> int:
    """The embedder's vector size, found by asking it when it does not say (providers)."""
    if embedder.dimensions is not None:
        return embedder.dimensions
    return len((await embedder.embed(["how long is a vector?"]))[0])


async def plan(store: Store, embedder, dimensions: int) -> Plan:
    async def read(tx) -> tuple[dict[str, Any] | None, int]:
        return await tx.first(RECORD), await tx.count("memoryEmbeddings")

    record, rows = await store.read(read)
    return Plan(
        model=embedder.embedding_model,
        dimensions=dimensions,
        stored_model=record["embeddingModel"] if record else None,
        stored_dimensions=embedding_dimensions(store.schema),
        rows=rows,
        complete=record["complete"] if record else True,
    )


async def fit_memory_index(store: Store, embedder) -> None:
    """Make the stored memories match ``embedder`` at start: resize an empty index, or
    re-embed them all; raise :class:`MemoryIndexError` with the fix when that fails."""
    try:
        dimensions = await vector_size(embedder)
    except LLMError as exc:
        log.warning(
            "could not ask the embedder for its vector size (%s); memories keep the current "
            "index until it answers",
            exc,
        )
        return
    wanted = await plan(store, embedder, dimensions)
    if wanted.reembed:
        why = (
            f"{wanted.stored_dimensions or 'no'} → {dimensions} dimensions"
            if wanted.resize
            else f"{wanted.stored_model or 'unfinished'} → {wanted.model}"
        )
        log.warning(
            "the embedding model changed (%s): re-embedding %d memories with %s",
            why,
            wanted.rows,
            embedder.description,
        )
        await reembed(store, embedder, dimensions, progress=_logger())
        return
    if wanted.resize:
        await store.apply_schema(store.schema.merged([memory_embeddings(dimensions, False)]))
        log.info("memory index sized to %d dimensions for %s", dimensions, embedder.description)
    if wanted.stored_model != wanted.model:
        await _record(store, wanted.model, dimensions, complete=True)


async def reembed(
    store: Store,
    embedder,
    dimensions: int | None = None,
    *,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> int:
    """Embed every memory again with ``embedder``, in place; the number re-embedded.

    Embeddings whose memory is gone are deleted (nothing says what they meant).
    """
    dimensions = dimensions or await vector_size(embedder)
    model = embedder.embedding_model
    total = await store.read(lambda tx: tx.count("memoryEmbeddings"))
    await _record(store, model, dimensions, complete=False)
    await store.delete_all("embeddingsCache")
    await store.apply_schema(store.schema.merged([memory_embeddings(None)]))
    done = orphans = 0
    cursor: str | None = None
    while True:
        page = await store.read(functools.partial(_embeddings_page, cursor=cursor, size=batch))
        cursor = page.continue_cursor
        rows = await store.read(functools.partial(_with_texts, embeddings=page.page))
        texts = [text for _, text in rows if text is not None]
        try:
            vectors = iter(await embedder.embed(texts))
        except LLMError as exc:
            raise MemoryIndexError(
                f"re-embedding memories with {embedder.description} stopped after "
                f"{done} of {total}: {exc}. Memories are not recalled until this finishes: "
                f"fix the embedder and restart, or run `{REEMBED_COMMAND}`"
            ) from exc
        updates = [(id, text, next(vectors) if text is not None else None) for id, text in rows]
        await store.run(functools.partial(_write, model=model, updates=updates))
        done += len(texts)
        orphans += len(rows) - len(texts)
        if progress is not None:
            progress(done + orphans, max(total, done + orphans))
        if page.is_done:
            break
    await store.apply_schema(store.schema.merged([memory_embeddings(dimensions, False)]))
    await _record(store, model, dimensions, complete=True)
    if orphans:
        log.info("deleted %d memory embeddings that no memory used", orphans)
    return done


def _embeddings_page(tx: Transaction, cursor: str | None, size: int) -> Awaitable[Page]:
    return tx.paginate("memoryEmbeddings", cursor=cursor, page_size=size)


async def _with_texts(
    tx: Transaction, embeddings: Sequence[dict[str, Any]]
) -> list[tuple[str, str | None]]:
    """Each embedding's id with its memory's text (None: no memory uses it)."""
    out = []
    for doc in embeddings:
        memory = await tx.first("memories", "embeddingId", eq={"embeddingId": doc["_id"]})
        out.append((doc["_id"], None if memory is None else memory["description"]))
    return out


async def _write(
    tx: Transaction, model: str, updates: list[tuple[str, str | None, list[float] | None]]
) -> None:
    for embedding_id, text, vector in updates:
        if await tx.get(embedding_id, table="memoryEmbeddings") is None:
            continue  # deleted meanwhile
        if text is None or vector is None:
            await tx.delete(embedding_id, table="memoryEmbeddings")
            continue
        await tx.patch(embedding_id, {"embedding": vector}, table="memoryEmbeddings")
        key = embedding_key(model, text)
        if await tx.first("embeddingsCache", "text", eq={"textHash": key}) is None:
            await tx.insert("embeddingsCache", {"textHash": key, "embedding": vector})


async def _record(store: Store, model: str, dimensions: int, complete: bool) -> None:
    async def write(tx) -> None:
        fields = {"embeddingModel": model, "dimensions": dimensions, "complete": complete}
        found = await tx.first(RECORD)
        if found is None:
            await tx.insert(RECORD, fields)
        else:
            await tx.patch(found["_id"], fields)

    await store.run(write)


def _logger(every: float = 2.0) -> Progress:
    """Progress as log lines, at most one per ``every`` seconds, and the last one."""
    started = last = time.monotonic()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < every:
            return
        last = now
        rate = done / max(now - started, 1e-9)
        log.info("re-embedded %d of %d memories (%.0f a second)", done, total, rate)

    return report
