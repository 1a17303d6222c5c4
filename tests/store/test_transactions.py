"""Conformance: atomicity, isolation, and the read and write sets the reactive layer uses."""

import asyncio
import contextlib

import pytest

from smalltown.store import (
    UNDEFINED,
    Index,
    InvalidQueryError,
    KeyRange,
    Range,
    Schema,
    Table,
    overlaps,
)
from smalltown.store.keys import encode_tuple, encode_value

SCHEMA = Schema(
    [
        Table("counters", indexes=[Index("by_name", ["name"])]),
        Table("log", indexes=[Index("by_topic", ["topic", "seq"])]),
    ]
)


class Boom(Exception):
    pass


async def test_an_exception_rolls_back_every_write(open_test_store):
    store = await open_test_store(SCHEMA)
    keep = await store.run(lambda tx: tx.insert("counters", {"name": "keep", "n": 0}))

    async def fails(tx):
        await tx.insert("counters", {"name": "ghost", "n": 1})
        await tx.patch(keep, {"n": 99})
        await tx.delete(keep)
        raise Boom

    with pytest.raises(Boom):
        await store.run(fails)
    docs = await store.read(lambda tx: tx.query("counters"))
    assert [(d["name"], d["n"]) for d in docs] == [("keep", 0)]


async def test_reads_inside_a_transaction_see_its_own_writes(open_test_store):
    store = await open_test_store(SCHEMA)

    async def body(tx):
        id = await tx.insert("counters", {"name": "a", "n": 1})
        await tx.patch(id, {"n": 2})
        by_index = await tx.query("counters", "by_name", eq={"name": "a"})
        return (await tx.get(id))["n"], [d["n"] for d in by_index], await tx.count("counters")

    assert await store.run(body) == (2, [2], 1)


@pytest.mark.timeout(240)
async def test_concurrent_incrementers_lose_no_update(open_test_store):
    store = await open_test_store(SCHEMA)
    id = await store.run(lambda tx: tx.insert("counters", {"name": "c", "n": 0}))

    async def increment(tx):
        doc = await tx.get(id)
        await tx.patch(id, {"n": doc["n"] + 1})

    async def worker():
        for _ in range(200):
            await store.run(increment)

    await asyncio.gather(*(worker() for _ in range(8)))
    assert (await store.read(lambda tx: tx.get(id)))["n"] == 1600


async def test_read_only_transactions_refuse_writes(open_test_store):
    store = await open_test_store(SCHEMA)
    with pytest.raises(InvalidQueryError, match="read-only"):
        await store.read(lambda tx: tx.insert("counters", {"name": "x"}))
    assert await store.read(lambda tx: tx.count("counters")) == 0


async def test_read_set_is_exactly_what_was_read(open_test_store):
    store = await open_test_store(SCHEMA)
    ids = await store.run(
        lambda tx: asyncio.gather(*(tx.insert("log", {"topic": "a", "seq": i}) for i in range(5)))
    )

    async def reads(tx):
        await tx.get(ids[0])
        await tx.query("log", "by_topic", eq={"topic": "a"}, range=Range("seq", gte=1, lt=4))
        await tx.query("log", "by_topic", eq={"topic": "a"}, limit=2)

    committed = await store.transact(reads, read_only=True)
    assert committed.writes == ()
    get_range, range_read, limited = committed.reads
    assert get_range == KeyRange("log", "by_id", encode_value(ids[0]), encode_value(ids[0]) + b"\0")
    assert range_read == KeyRange("log", "by_topic", encode_tuple(["a", 1]), encode_tuple(["a", 4]))
    # A limited scan depends on the range up to its last row only.
    assert limited.table == "log" and limited.low == encode_tuple(["a"])
    docs = await store.read(lambda tx: tx.query("log", "by_topic", eq={"topic": "a"}, limit=2))
    second = docs[1]
    key = encode_tuple(["a", 1, second["_creationTime"], second["_id"]])
    assert limited.high == key + b"\0"


async def test_write_set_has_old_and_new_keys(open_test_store):
    store = await open_test_store(SCHEMA)
    committed = await store.transact(lambda tx: tx.insert("log", {"topic": "a", "seq": 1}))
    id = committed.value
    (write,) = committed.writes
    assert (write.table, write.id, write.old_keys) == ("log", id, None)
    assert write.new_keys["by_topic"].startswith(encode_tuple(["a", 1]))
    assert write.new_keys["by_id"] == encode_value(id)

    moved = await store.transact(lambda tx: tx.patch(id, {"topic": "b"}))
    (write,) = moved.writes
    assert write.old_keys["by_topic"].startswith(encode_tuple(["a", 1]))
    assert write.new_keys["by_topic"].startswith(encode_tuple(["b", 1]))

    gone = await store.transact(lambda tx: tx.delete(id))
    (write,) = gone.writes
    assert write.new_keys is None and write.old_keys["by_topic"].startswith(encode_tuple(["b"]))


async def test_insert_then_delete_in_one_transaction_writes_nothing(open_test_store):
    store = await open_test_store(SCHEMA)

    async def body(tx):
        id = await tx.insert("log", {"topic": "x"})
        await tx.delete(id)

    assert (await store.transact(body)).writes == ()


async def test_overlap_tells_which_writes_touch_which_reads(open_test_store):
    store = await open_test_store(SCHEMA)
    await store.run(lambda tx: tx.insert("log", {"topic": "a", "seq": 1}))
    watch_a = await store.transact(
        lambda tx: tx.query("log", "by_topic", eq={"topic": "a"}), read_only=True
    )
    to_b = await store.transact(lambda tx: tx.insert("log", {"topic": "b", "seq": 1}))
    to_a = await store.transact(lambda tx: tx.insert("log", {"topic": "a", "seq": 2}))
    assert not overlaps(watch_a.reads, to_b.writes)
    assert overlaps(watch_a.reads, to_a.writes)
    # Moving a document out of the range is a change too.
    moved = await store.transact(lambda tx: tx.patch(to_a.value, {"topic": "c"}))
    assert overlaps(watch_a.reads, moved.writes)
    # A field no index covers still changes the document, which the by_id read sees.
    watch_doc = await store.transact(lambda tx: tx.get(to_b.value), read_only=True)
    touched = await store.transact(lambda tx: tx.patch(to_b.value, {"note": "x"}))
    assert overlaps(watch_doc.reads, touched.writes)
    untouched = await store.transact(lambda tx: tx.patch(to_a.value, {"note": UNDEFINED}))
    assert not overlaps(watch_doc.reads, untouched.writes)


async def test_commit_listeners_get_each_commit_in_order(open_test_store):
    store = await open_test_store(SCHEMA)
    seen = []
    unsubscribe = store.on_commit(lambda ts, writes: seen.append((ts, [w.id for w in writes])))
    a = await store.run(lambda tx: tx.insert("counters", {"name": "a"}))
    await store.read(lambda tx: tx.get(a))
    with pytest.raises(Boom):
        await store.run(lambda tx: _insert_then_fail(tx))
    b = await store.run(lambda tx: tx.insert("counters", {"name": "b"}))
    unsubscribe()
    await store.run(lambda tx: tx.insert("counters", {"name": "c"}))
    assert [ids for _, ids in seen] == [[a], [b]]
    assert seen[0][0] < seen[1][0]


async def _insert_then_fail(tx):
    await tx.insert("counters", {"name": "never"})
    raise Boom


async def test_no_write_skew_between_two_stores_on_one_database(open_test_store):
    """Two writers that each read both switches and turn theirs off only if both are on:
    under serializability at least one stays on. Snapshot isolation alone lets both off."""
    first = await open_test_store(SCHEMA)
    second = await open_test_store(SCHEMA)  # a second process, as far as the database knows

    for round in range(4):
        a = await first.run(lambda tx: tx.insert("counters", {"name": "a", "on": True}))
        b = await first.run(lambda tx: tx.insert("counters", {"name": "b", "on": True}))
        read = {a: asyncio.Event(), b: asyncio.Event()}

        async def turn_off(store, mine, other, read=read):
            async def body(tx):
                me, them = await tx.get(mine), await tx.get(other)
                read[mine].set()
                # Let the other writer read too, where the database lets it run alongside.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(read[other].wait(), 0.3)
                if me["on"] and them["on"]:
                    await tx.patch(mine, {"on": False})

            await store.run(body)

        await asyncio.gather(turn_off(first, a, b), turn_off(second, b, a))
        states = [(await first.read(lambda tx, id=id: tx.get(id)))["on"] for id in (a, b)]
        assert any(states), f"round {round}: both switched off"


async def test_processes_opening_one_new_database_together_all_start(store_url):
    """Stores opened at once on an empty database all apply the schema: one that loses the
    race for the table metadata tries again instead of failing its start (on MongoDB, two
    servers started together once failed with a write conflict)."""
    from smalltown.store import open_store

    stores = await asyncio.gather(*(open_store(store_url, SCHEMA) for _ in range(6)))
    try:
        numbers = {tuple(sorted(s.table_numbers.items())) for s in stores}
        assert len(numbers) == 1  # every store agrees on the tables' numbers
        await stores[0].run(lambda tx: tx.insert("counters", {"name": "a", "n": 1}))
        assert await stores[-1].run(lambda tx: tx.count("counters")) == 1
    finally:
        for store in stores:
            await store.close()
