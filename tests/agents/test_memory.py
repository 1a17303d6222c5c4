import math

import pytest

from smalltown.agents.memory import normalise, rank
from smalltown.agents.prompts import parse_importance
from smalltown.llm.hashed_embeddings import HashedEmbedder


def test_one_memory_or_equal_scores_never_give_nan():
    assert rank([("m1", 0.5, 3.0, 0.0)], now=1e9, count=3) == ["m1"]
    ranked = rank([("a", 0.2, 5.0, 100.0), ("b", 0.2, 5.0, 100.0)], now=1e9, count=2)
    assert ranked == ["a", "b"]
    assert all(not math.isnan(v) for v in normalise([1.0, 1.0, 1.0]))


def test_relevance_importance_and_recency_all_count():
    hour = 3_600_000
    now = 100 * hour
    candidates = [
        ("relevant", 0.9, 1.0, now - 50 * hour),
        ("important", 0.1, 9.0, now - 50 * hour),
        ("recent", 0.1, 1.0, now),
        ("none", 0.1, 1.0, now - 50 * hour),
    ]
    top = rank(candidates, now, 3)
    assert set(top) == {"relevant", "important", "recent"}


@pytest.mark.parametrize(("text", "value"), [("7", 7.0), ("I'd say 3/9", 3.0), ("very", 5.0)])
def test_importance_parsing(text, value):
    assert parse_importance(text) == value


async def test_hashed_embeddings_put_shared_words_close():
    embedder = HashedEmbedder()
    a, b, c = await embedder.embed(
        ["Tobias gave me rye bread", "the rye bread from Tobias", "the pond was frozen"]
    )
    dot = lambda x, y: sum(p * q for p, q in zip(x, y, strict=True))  # noqa: E731
    assert dot(a, b) > dot(a, c)
    assert abs(dot(a, a) - 1.0) < 1e-9 and len(a) == embedder.dimensions


def test_insights_and_their_citations_are_parsed():
    from smalltown.agents.prompts import parse_insights

    text = "1. Bread brings people (2, 3)\n- Wren asks hard questions (7).\n\nA plain one\nextra"
    assert parse_insights(text, count=5) == [
        ("Bread brings people", [2, 3]),
        ("Wren asks hard questions", []),  # 7 is not one of the five memories
        ("A plain one", []),
    ]
