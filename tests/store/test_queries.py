"""Conformance: every query shape, ordering and pagination, on every provider."""

import asyncio
import random

import pytest

from smalltown.store import Index, InvalidQueryError, Range, Schema, Table

SCHEMA = Schema(
    [
        Table(
            "events",
            indexes=[
                Index("by_world_time", ["world", "t"]),
                Index("by_nested", ["pos.x", "pos.y"]),
                Index("by_kind", ["kind"]),
            ],
        )
    ]
)


async def _seed(store, n=60, seed=1):
    rng = random.Random(seed)
    docs = [
        {
            "world": rng.choice(["w1", "w2", "w3"]),
            "t": rng.randint(0, 20),
            "pos": {"x": rng.randint(0, 4), "y": rng.random()},
            "kind": rng.choice([None, 1, 1.5, "s", True, b"b"]),
            "n": i,
        }
        for i in range(n)
    ]

    async def insert(tx):
        return [await tx.insert("events", d) for d in docs]

    ids = await store.run(insert)
    return [{**d, "_id": id} for d, id in zip(docs, ids, strict=True)]


def _ns(docs):
    return [d["n"] for d in docs]


def _sorted(docs, *fields, reverse=False):
    return sorted(docs, key=lambda d: (*(d[f] for f in fields), d["n"]), reverse=reverse)


async def test_full_scan_is_in_creation_order(open_test_store):
    store = await open_test_store(SCHEMA)
    docs = await _seed(store)
    got = await store.read(lambda tx: tx.query("events"))
    assert _ns(got) == list(range(len(docs)))
    times = [d["_creationTime"] for d in got]
    assert times == sorted(times)
    desc = await store.read(lambda tx: tx.query("events", order="desc", limit=5))
    assert _ns(desc) == list(range(len(docs) - 1, len(docs) - 6, -1))


async def test_equality_on_a_prefix(open_test_store):
    store = await open_test_store(SCHEMA)
    docs = await _seed(store)
    got = await store.read(lambda tx: tx.query("events", "by_world_time", eq={"world": "w2"}))
    expected = _sorted([d for d in docs if d["world"] == "w2"], "t")
    assert _ns(got) == _ns(expected)
    got = await store.read(
        lambda tx: tx.query("events", "by_world_time", eq={"world": "w2", "t": 7})
    )
    assert _ns(got) == [d["n"] for d in docs if d["world"] == "w2" and d["t"] == 7]


@pytest.mark.parametrize(
    ("bounds", "keep"),
    [
        ({"gt": 5}, lambda t: t > 5),
        ({"gte": 5}, lambda t: t >= 5),
        ({"lt": 5}, lambda t: t < 5),
        ({"lte": 5}, lambda t: t <= 5),
        ({"gt": 3, "lte": 12}, lambda t: 3 < t <= 12),
        ({"gte": 3, "lt": 3}, lambda t: False),
    ],
)
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_range_after_equality(open_test_store, bounds, keep, order):
    store = await open_test_store(SCHEMA)
    docs = await _seed(store)
    got = await store.read(
        lambda tx: tx.query(
            "events", "by_world_time", eq={"world": "w1"}, range=Range("t", **bounds), order=order
        )
    )
    expected = _sorted(
        [d for d in docs if d["world"] == "w1" and keep(d["t"])], "t", reverse=order == "desc"
    )
    assert _ns(got) == _ns(expected)


async def test_range_on_the_first_field_and_limit(open_test_store):
    store = await open_test_store(SCHEMA)
    docs = await _seed(store)
    got = await store.read(
        lambda tx: tx.query("events", "by_world_time", range=Range("world", gte="w2"), limit=7)
    )
    assert _ns(got) == _ns(_sorted([d for d in docs if d["world"] >= "w2"], "world", "t"))[:7]


async def test_nested_paths_and_mixed_types_follow_convex_order(open_test_store):
    store = await open_test_store(SCHEMA)
    docs = await _seed(store)
    got = await store.read(lambda tx: tx.query("events", "by_nested", eq={"pos.x": 2}))
    expected = sorted((d for d in docs if d["pos"]["x"] == 2), key=lambda d: d["pos"]["y"])
    assert _ns(got) == _ns(expected)
    kinds = [d["kind"] for d in await store.read(lambda tx: tx.query("events", "by_kind"))]
    rank = {type(None): 0, int: 1, float: 2, bool: 3, str: 4, bytes: 5}
    assert kinds == sorted(kinds, key=lambda k: rank[type(k)])


async def test_missing_field_sorts_first_and_matches_nothing_by_equality(open_test_store):
    store = await open_test_store(SCHEMA)
    await store.run(lambda tx: tx.insert("events", {"world": "w1"}))
    await store.run(lambda tx: tx.insert("events", {"world": "w1", "t": None}))
    await store.run(lambda tx: tx.insert("events", {"world": "w1", "t": 0}))
    got = await store.read(lambda tx: tx.query("events", "by_world_time", eq={"world": "w1"}))
    assert [d.get("t", "missing") for d in got] == ["missing", None, 0]
    nulls = await store.read(
        lambda tx: tx.query("events", "by_world_time", eq={"world": "w1", "t": None})
    )
    assert len(nulls) == 1


async def test_count(open_test_store):
    store = await open_test_store(SCHEMA)
    await _seed(store, n=23)
    assert await store.read(lambda tx: tx.count("events")) == 23


async def test_pagination_walks_everything_once_despite_concurrent_inserts(open_test_store):
    store = await open_test_store(SCHEMA)
    docs = await _seed(store, n=50)
    w1 = [d["n"] for d in _sorted([d for d in docs if d["world"] == "w1"], "t")]
    seen, cursor, pages = [], None, 0
    while True:
        page = await store.read(
            lambda tx, c=cursor: tx.paginate(
                "events", "by_world_time", eq={"world": "w1"}, cursor=c, page_size=4
            )
        )
        seen += _ns(page.page)
        pages += 1
        # Writers keep inserting between pages, before and after the cursor.
        await store.run(lambda tx, p=pages: tx.insert("events", {"world": "w1", "t": -1, "n": -p}))
        await store.run(
            lambda tx, p=pages: tx.insert("events", {"world": "w1", "t": 99, "n": 1000 + p})
        )
        cursor = page.continue_cursor
        if page.is_done:
            break
    originals = [n for n in seen if 0 <= n < 1000]
    assert originals == w1
    assert len(seen) == len(set(seen))
    assert pages > 3


async def test_pagination_descending_and_done_page(open_test_store):
    store = await open_test_store(SCHEMA)
    docs = await _seed(store, n=10)
    first = await store.read(lambda tx: tx.paginate("events", order="desc", page_size=6))
    assert _ns(first.page) == [9, 8, 7, 6, 5, 4] and not first.is_done
    rest = await store.read(
        lambda tx: tx.paginate("events", order="desc", cursor=first.continue_cursor, page_size=6)
    )
    assert _ns(rest.page) == [3, 2, 1, 0] and rest.is_done
    after = await store.read(
        lambda tx: tx.paginate("events", order="desc", cursor=rest.continue_cursor, page_size=6)
    )
    assert after.page == [] and after.is_done
    assert len(docs) == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index": "by_world_time", "eq": {"t": 1}}, "prefix"),
        ({"index": "by_world_time", "eq": {"world": "w1"}, "range": Range("world", gt=1)}, "range"),
        ({"index": "by_world_time", "range": Range("world", gt=1, gte=2)}, "at most one"),
        ({"order": "sideways"}, "order"),
        ({"limit": -1}, "limit"),
    ],
)
async def test_bad_query_shapes_are_refused(open_test_store, kwargs, message):
    store = await open_test_store(SCHEMA)
    with pytest.raises(InvalidQueryError, match=message):
        await store.read(lambda tx: tx.query("events", **kwargs))


async def test_a_cursor_from_another_query_or_garbage_is_refused(open_test_store):
    store = await open_test_store(SCHEMA)
    await _seed(store, n=5)
    page = await store.read(lambda tx: tx.paginate("events", page_size=2))
    with pytest.raises(InvalidQueryError, match="another query"):
        await store.read(lambda tx: tx.paginate("events", "by_kind", cursor=page.continue_cursor))
    with pytest.raises(InvalidQueryError, match="malformed"):
        await store.read(lambda tx: tx.paginate("events", cursor="not a cursor!"))


async def test_concurrent_readers_see_consistent_snapshots(open_test_store):
    store = await open_test_store(SCHEMA)
    await _seed(store, n=10)

    async def pair_insert(tx):
        await tx.insert("events", {"world": "pair"})
        await tx.insert("events", {"world": "pair"})

    async def count_pairs(tx):
        return len(await tx.query("events", "by_world_time", eq={"world": "pair"}))

    async def writer():
        for _ in range(20):
            await store.run(pair_insert)

    async def reader():
        counts = []
        for _ in range(20):
            counts.append(await store.read(count_pairs))
        return counts

    _, *counts = await asyncio.gather(writer(), reader(), reader())
    assert all(c % 2 == 0 for cs in counts for c in cs)
