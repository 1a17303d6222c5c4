"""The memory index follows the embedder: a new model's vectors replace the old in place."""

import asyncio
import os
import subprocess
import sys

import numpy as np
import pytest

from fake_llm import FakeLLM, fake_embedding
from smalltown.agents.embeddings import embedding_key
from smalltown.llm import LLMConfig, open_provider
from smalltown.llm.hashed_embeddings import HashedEmbedder
from smalltown.llm.minilm import MiniLMEmbedder
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import open_store
from smalltown.town.schema import schema
from smalltown.worlds.memory_index import (
    RECORD,
    MemoryIndexError,
    embedding_dimensions,
    fit_memory_index,
    reembed,
)

from helpers import RunningServer

TOWN = with_system_tables(schema)
MEMORIES = [
    ("p:1", "I shared warm rye bread with Tobias at the bakery.", 7.0),
    ("p:1", "Wren and I argued about the taxes the council wants.", 4.0),
    ("p:1", "The ducks on the frozen pond looked cold this morning.", 2.0),
    ("p:2", "Lucky told me about a comet he saw from the hill.", 6.0),
]


async def remember(store, embedder, memories=MEMORIES):
    """Memories as agent/memory:storeMemory writes them, embedded by ``embedder``."""
    vectors = await embedder.embed([text for _, text, _ in memories])

    async def write(tx):
        ids = []
        for (player, text, importance), vector in zip(memories, vectors, strict=True):
            embedding_id = await tx.insert(
                "memoryEmbeddings", {"playerId": player, "embedding": vector}
            )
            ids.append(
                await tx.insert(
                    "memories",
                    {
                        "playerId": player,
                        "description": text,
                        "embeddingId": embedding_id,
                        "importance": importance,
                        "lastAccess": 0.0,
                        "data": {"type": "relationship", "playerId": "p:9"},
                    },
                )
            )
        return ids

    return await store.run(write)


async def stored(store):
    async def read(tx):
        out = {}
        for memory in await tx.query("memories"):
            vector = (await tx.get(memory["embeddingId"], table="memoryEmbeddings"))["embedding"]
            out[memory["_id"]] = (memory["description"], memory["importance"], vector)
        return out

    return await store.read(read)


async def test_a_new_model_of_another_size_re_embeds_every_memory_in_place(store_url):
    store = await open_store(store_url, TOWN)
    try:
        hashed = HashedEmbedder()
        await fit_memory_index(store, hashed)
        assert embedding_dimensions(store.schema) == 256
        ids = await remember(store, hashed)
        orphan = await store.run(
            lambda tx: tx.insert("memoryEmbeddings", {"playerId": "p:1", "embedding": [1.0] * 256})
        )
    finally:
        await store.close()

    # A restart keeps the index at the size it was built with (not the schema's 384)...
    store = await open_store(store_url, TOWN)
    try:
        assert embedding_dimensions(store.schema) == 256
        minilm = MiniLMEmbedder()
        await fit_memory_index(store, minilm)  # ...and then the town moves it to MiniLM
        assert embedding_dimensions(store.schema) == 384
        after = await stored(store)
        assert list(after) == ids  # same memories, same ids
        texts = [text for _, text, _ in MEMORIES]
        expected = await minilm.embed(texts)
        for (text, importance, vector), want, (_, kept_text, kept) in zip(
            after.values(), expected, MEMORIES, strict=True
        ):
            assert (text, importance) == (kept_text, kept)
            assert np.allclose(vector, want, atol=1e-6)
        assert await store.read(lambda tx: tx.get(orphan, table="memoryEmbeddings")) is None
        # Recall by meaning through the rebuilt index: a query that shares no word.
        (query,) = await minilm.embed(["a loaf from the baker"])
        found = await store.read(
            lambda tx: tx.vector_search(
                "memoryEmbeddings", "embedding", query, limit=1, filter={"playerId": "p:1"}
            )
        )
        memory = await store.read(
            lambda tx: tx.first("memories", "embeddingId", eq={"embeddingId": found[0][0]})
        )
        assert memory["description"] == texts[0]
        # The cache answers for the new model, and the record says which model it was.
        cached = await store.read(
            lambda tx: tx.first(
                "embeddingsCache",
                "text",
                eq={"textHash": embedding_key(minilm.embedding_model, texts[1])},
            )
        )
        assert np.allclose(cached["embedding"], expected[1], atol=1e-6)
        assert await store.read(lambda tx: tx.count("embeddingsCache")) == len(texts)
        record = await store.read(lambda tx: tx.first(RECORD))
        assert record["embeddingModel"] == minilm.embedding_model
        assert record["dimensions"] == 384 and record["complete"] is True
        await fit_memory_index(store, minilm)  # nothing left to do: the vectors stay
        assert await stored(store) == after
    finally:
        await store.close()


@pytest.fixture
async def fake():
    llm = FakeLLM()
    async with RunningServer(llm.app) as server:
        llm.url = server.url
        yield llm


def provider(fake, model):
    config = LLMConfig("openai", f"{fake.url}/v1", "chatty", model, None, "LLM_API_URL")
    return open_provider(config, retry_delays=(0.01,))


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
async def test_a_new_model_of_the_same_size_re_embeds_too(store_url, fake):
    store = await open_store(store_url, TOWN)
    first, second = provider(fake, "embedder-a"), provider(fake, "embedder-b")
    try:
        await fit_memory_index(store, first)
        await remember(store, first)
        fake.requests.clear()
        await fit_memory_index(store, first)  # the same model again: nothing to re-embed
        assert all(len(body["input"]) == 1 for _, body, _ in fake.requests)  # the size probe
        fake.requests.clear()
        await fit_memory_index(store, second)
        asked = [body for path, body, _ in fake.requests if path == "/v1/embeddings"]
        assert {body["model"] for body in asked} == {"embedder-b"}
        for text, _, vector in (await stored(store)).values():
            assert vector == fake_embedding(text)  # the vectors the new model gives
        assert (await store.read(lambda tx: tx.first(RECORD)))["embeddingModel"] == "embedder-b"
    finally:
        await first.close()
        await second.close()
        await store.close()


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
async def test_a_re_embedding_that_fails_names_the_command_and_can_be_done_again(store_url, fake):
    store = await open_store(store_url, TOWN)
    hashed = HashedEmbedder()
    broken = provider(fake, "embedder-b")
    try:
        await fit_memory_index(store, hashed)
        ids = await remember(store, hashed)
        fake.fail(500, times=100)
        fake.dims = 8
        with pytest.raises(
            MemoryIndexError, match=r"stopped after 0 of 4.*smalltown memories reembed"
        ):
            await reembed(store, broken, 8, batch=2)
    finally:
        await broken.close()
        await store.close()
    # Stopped part-way: after a restart the index stays dropped and the record unfinished,
    store = await open_store(store_url, TOWN)
    try:
        assert embedding_dimensions(store.schema) is None
        assert (await store.read(lambda tx: tx.first(RECORD)))["complete"] is False
        minilm = MiniLMEmbedder()
        await fit_memory_index(store, minilm)  # so the next start finishes the job.
        assert embedding_dimensions(store.schema) == 384
        after = await stored(store)
        assert list(after) == ids and {len(v) for _, _, v in after.values()} == {384}
    finally:
        await store.close()


def test_the_cli_re_embeds_with_the_configured_embedder(tmp_path):
    url = f"sqlite:///{tmp_path}/town.db"

    async def setup():
        store = await open_store(url, TOWN)
        try:
            await fit_memory_index(store, HashedEmbedder())
            await remember(store, HashedEmbedder())
        finally:
            await store.close()

    asyncio.run(setup())
    env = dict(os.environ)
    for name in (
        "OPENAI_API_KEY",
        "TOGETHER_API_KEY",
        "LLM_API_URL",
        "OLLAMA_HOST",
        "SMALLTOWN_EMBEDDINGS",
    ):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", "memories", "reembed", "--database", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "re-embedded 4 memories with offline all-MiniLM-L6-v2" in result.stderr

    async def check():
        store = await open_store(url, TOWN)
        try:
            assert embedding_dimensions(store.schema) == 384
            return await stored(store)
        finally:
            await store.close()

    assert {len(v) for _, _, v in asyncio.run(check()).values()} == {384}
