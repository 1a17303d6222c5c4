"""Conformance: vector search by cosine similarity, filters, dimensions, recall."""

import numpy as np
import pytest

from smalltown.store import (
    AnyOf,
    InvalidQueryError,
    InvalidValueError,
    Schema,
    SchemaError,
    Table,
    UnknownIndexError,
    VectorDimensionError,
    VectorIndex,
)

DIMS = 16
SCHEMA = Schema(
    [
        Table(
            "memories",
            vector_indexes=[
                VectorIndex(
                    "by_embedding",
                    field="embedding",
                    dimensions=DIMS,
                    filter_fields=["player", "kind"],
                )
            ],
        )
    ]
)


def _vectors(n, seed=0, dims=DIMS):
    return np.random.default_rng(seed).normal(size=(n, dims)).astype(np.float32)


async def _load(store, vectors, players=("p1", "p2", "p3"), kinds=("chat", "reflection")):
    async def insert(tx):
        ids = []
        for i, v in enumerate(vectors):
            ids.append(
                await tx.insert(
                    "memories",
                    {
                        "embedding": [float(x) for x in v],
                        "player": players[i % len(players)],
                        "kind": kinds[i % len(kinds)],
                        "i": i,
                    },
                )
            )
        return ids

    return await store.run(insert)


def _exact(vectors, query, mask=None):
    m = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = m @ (query / np.linalg.norm(query))
    order = [int(i) for i in np.argsort(-scores) if mask is None or mask[i]]
    return order, scores


async def test_results_are_the_nearest_by_cosine_best_first(open_test_store):
    store = await open_test_store(SCHEMA)
    vectors = _vectors(200)
    ids = await _load(store, vectors)
    query = _vectors(1, seed=99)[0]
    got = await store.read(
        lambda tx: tx.vector_search("memories", "by_embedding", list(map(float, query)), limit=10)
    )
    order, scores = _exact(vectors, query)
    assert [id for id, _ in got] == [ids[i] for i in order[:10]]
    for (_, score), i in zip(got, order[:10], strict=True):
        assert score == pytest.approx(float(scores[i]), abs=1e-4)
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)


async def test_filters_by_equality_and_any_of(open_test_store):
    store = await open_test_store(SCHEMA)
    vectors = _vectors(300, seed=1)
    ids = await _load(store, vectors)
    query = [float(x) for x in _vectors(1, seed=5)[0]]
    players = np.array(["p1", "p2", "p3"] * 100)
    kinds = np.array(["chat", "reflection"] * 150)

    got = await store.read(
        lambda tx: tx.vector_search(
            "memories", "by_embedding", query, limit=5, filter={"player": "p2"}
        )
    )
    order, _ = _exact(vectors, np.array(query), players == "p2")
    assert [id for id, _ in got] == [ids[i] for i in order[:5]]

    got = await store.read(
        lambda tx: tx.vector_search(
            "memories",
            "by_embedding",
            query,
            limit=7,
            filter={"player": AnyOf("p1", "p3"), "kind": "reflection"},
        )
    )
    mask = ((players == "p1") | (players == "p3")) & (kinds == "reflection")
    order, _ = _exact(vectors, np.array(query), mask)
    assert [id for id, _ in got] == [ids[i] for i in order[:7]]

    none = await store.read(
        lambda tx: tx.vector_search("memories", "by_embedding", query, filter={"player": "nobody"})
    )
    assert none == []


async def test_search_follows_updates_deletes_and_own_writes(open_test_store):
    store = await open_test_store(SCHEMA)
    ids = await _load(store, _vectors(20, seed=2))
    target = [1.0] + [0.0] * (DIMS - 1)
    await store.run(lambda tx: tx.patch(ids[3], {"embedding": target}))
    best = await store.read(
        lambda tx: tx.vector_search("memories", "by_embedding", target, limit=1)
    )
    assert best[0][0] == ids[3] and best[0][1] == pytest.approx(1.0, abs=1e-5)

    await store.run(lambda tx: tx.delete(ids[3]))
    best = await store.read(
        lambda tx: tx.vector_search("memories", "by_embedding", target, limit=3)
    )
    assert ids[3] not in [id for id, _ in best]

    async def own_write(tx):
        new = await tx.insert("memories", {"embedding": target, "player": "p9", "kind": "chat"})
        found = await tx.vector_search(
            "memories", "by_embedding", target, limit=1, filter={"player": "p9"}
        )
        return new, found

    new, found = await store.run(own_write)
    assert found[0][0] == new

    # A document that drops its vector leaves the index.
    from smalltown.store import UNDEFINED

    await store.run(lambda tx: tx.patch(new, {"embedding": UNDEFINED}))
    gone = await store.read(
        lambda tx: tx.vector_search("memories", "by_embedding", target, filter={"player": "p9"})
    )
    assert gone == []


async def test_wrong_dimension_names_both_and_changes_nothing(open_test_store):
    store = await open_test_store(SCHEMA)
    with pytest.raises(VectorDimensionError, match=r"3 dimensions.*has 16"):
        await store.run(lambda tx: tx.insert("memories", {"embedding": [1.0, 2.0, 3.0]}))
    assert await store.read(lambda tx: tx.count("memories")) == 0
    with pytest.raises(VectorDimensionError, match=r"2 dimensions.*has 16"):
        await store.read(lambda tx: tx.vector_search("memories", "by_embedding", [1.0, 2.0]))
    with pytest.raises(InvalidValueError, match="finite numbers"):
        await store.run(lambda tx: tx.insert("memories", {"embedding": ["x"] * DIMS}))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"limit": 0}, InvalidQueryError, "limit"),
        ({"limit": 257}, InvalidQueryError, "limit"),
        ({"filter": {"i": 1}}, InvalidQueryError, "filter"),
        ({"index": "nope"}, UnknownIndexError, "vector index"),
    ],
)
async def test_bad_searches_are_refused(open_test_store, kwargs, error, message):
    store = await open_test_store(SCHEMA)
    kwargs = dict(kwargs)
    index = kwargs.pop("index", "by_embedding")
    with pytest.raises(error, match=message):
        await store.read(lambda tx: tx.vector_search("memories", index, [0.5] * DIMS, **kwargs))


async def test_recall_against_exact_search_on_a_seeded_set(open_test_store):
    """The approximate path (pgvector's HNSW) must find at least 95% of the true top 10."""
    dims = 64
    schema = Schema(
        [
            Table(
                "docs",
                vector_indexes=[VectorIndex("v", field="v", dimensions=dims, filter_fields=["g"])],
            )
        ]
    )
    store = await open_test_store(schema)
    rng = np.random.default_rng(42)
    centres = rng.normal(size=(20, dims))
    vectors = (
        centres[rng.integers(0, 20, 3000)] + rng.normal(scale=0.6, size=(3000, dims))
    ).astype(np.float32)
    groups = rng.integers(0, 10, 3000)

    async def insert(tx, lo, hi):
        return [
            await tx.insert("docs", {"v": [float(x) for x in vectors[i]], "g": int(groups[i])})
            for i in range(lo, hi)
        ]

    ids = []
    for lo in range(0, 3000, 500):
        ids += await store.run(lambda tx, lo=lo: insert(tx, lo, lo + 500))
    hits = total = 0
    for q in range(30):
        query = (centres[q % 20] + rng.normal(scale=0.6, size=dims)).astype(np.float32)
        flt = {"g": int(q % 10)} if q % 2 else None
        got = await store.read(
            lambda tx, query=query, flt=flt: tx.vector_search(
                "docs", "v", [float(x) for x in query], limit=10, filter=flt
            )
        )
        mask = None if flt is None else groups == flt["g"]
        order, _ = _exact(vectors, query, mask)
        truth = {ids[i] for i in order[:10]}
        hits += len(truth & {id for id, _ in got})
        total += 10
        assert len(got) == 10
    assert hits / total >= 0.95


async def test_vectors_too_large_for_an_ann_index_are_searched_exactly(open_test_store):
    dims = 2500  # beyond pgvector's HNSW limit of 2,000 dimensions
    schema = Schema([Table("big", vector_indexes=[VectorIndex("v", field="v", dimensions=dims)])])
    store = await open_test_store(schema)
    vectors = _vectors(40, seed=8, dims=dims)

    async def insert(tx):
        return [await tx.insert("big", {"v": [float(x) for x in v]}) for v in vectors]

    ids = await store.run(insert)
    query = _vectors(1, seed=9, dims=dims)[0]
    got = await store.read(
        lambda tx: tx.vector_search("big", "v", [float(x) for x in query], limit=5)
    )
    order, _ = _exact(vectors, query)
    assert [id for id, _ in got] == [ids[i] for i in order[:5]]


async def test_two_stores_on_one_database_see_each_others_vectors(open_test_store):
    """As two processes would: each store's search follows the other's commits."""
    first = await open_test_store(SCHEMA)
    second = await open_test_store(SCHEMA)
    target = [1.0] + [0.0] * (DIMS - 1)
    await _load(first, _vectors(10, seed=3))
    assert (
        len(await second.read(lambda tx: tx.vector_search("memories", "by_embedding", target)))
        == 10
    )

    id = await first.run(lambda tx: tx.insert("memories", {"embedding": target, "player": "p1"}))
    best = await second.read(
        lambda tx: tx.vector_search("memories", "by_embedding", target, limit=1)
    )
    assert best[0][0] == id

    await second.run(lambda tx: tx.delete(id))
    best = await first.read(
        lambda tx: tx.vector_search("memories", "by_embedding", target, limit=1)
    )
    assert best[0][0] != id

    async def search_in_a_write(tx):
        return await tx.vector_search("memories", "by_embedding", target, limit=1)

    moved = await second.run(
        lambda tx: tx.patch(best[0][0], {"embedding": [0.0, 1.0] + [0.0] * 14})
    )
    assert moved is None
    again = await first.run(search_in_a_write)
    assert again[0][0] != best[0][0]


def _sized(dims, keep):
    index = VectorIndex("v", "v", dims, ["g"], keep_stored_dimensions=keep)
    return Schema([Table("sized", vector_indexes=[index])])


async def test_an_index_can_keep_the_dimension_it_was_built_with(open_test_store):
    first = await open_test_store(_sized(8, keep=True))  # a new index takes the declared size
    await first.run(lambda tx: tx.insert("sized", {"v": [1.0] + [0.0] * 7, "g": "a"}))
    assert (await first.stored_definitions())["sized"]["vectorIndexes"][0]["dimensions"] == 8
    # Declared at 4 but kept at 8: the vectors still fit and still answer.
    again = await open_test_store(_sized(4, keep=True))
    assert again.schema.table("sized").vector_index("v").dimensions == 8
    found = await again.read(lambda tx: tx.vector_search("sized", "v", [1.0] + [0.0] * 7))
    assert len(found) == 1 and found[0][1] == pytest.approx(1.0)
    await again.apply_schema(_sized(4, keep=True))
    assert again.schema.table("sized").vector_index("v").dimensions == 8
    # Without the flag the declared size is applied, and the old vectors do not fit it.
    with pytest.raises(SchemaError, match=r"has 8 dimensions but vector index sized\.v has 4"):
        await again.apply_schema(_sized(4, keep=False))
    assert again.schema.table("sized").vector_index("v").dimensions == 8


async def test_an_index_dropped_on_purpose_stays_dropped_until_applied_plainly(open_test_store):
    store = await open_test_store(_sized(8, keep=True))
    first = await store.run(lambda tx: tx.insert("sized", {"v": [1.0] + [0.0] * 7, "g": "a"}))
    await store.apply_schema(Schema([Table("sized")]))  # drop it, as a re-embedding does
    await store.run(lambda tx: tx.patch(first, {"v": [0.5] * 4}))  # vectors of any size now
    reopened = await open_test_store(_sized(8, keep=True))
    assert reopened.schema.table("sized").vector_indexes == ()
    await reopened.apply_schema(_sized(4, keep=False))  # built again at the new size
    found = await reopened.read(lambda tx: tx.vector_search("sized", "v", [1.0] * 4))
    assert found == [(first, pytest.approx(1.0))]
