"""Conformance: a transaction counts the encoded bytes it writes, alike on every provider."""

import asyncio

import pytest

from smalltown.store import Index, InvalidValueError, Schema, Table, VectorIndex
from smalltown.store.ids import encode_id, new_internal_id
from smalltown.store.prepared import prepare_row

SCHEMA = Schema(
    [
        Table("notes"),
        Table("indexed", indexes=[Index("by_a", ["a"]), Index("by_ab", ["a", "b"])]),
        Table("log", indexes=[Index("by_step", ["step"])]),
        Table("vectors", vector_indexes=[VectorIndex("by_v", "v", 8, ["group"])]),
    ]
)
TEXT = "x" * 10_000
OVERHEAD = 200  # keys and JSON punctuation around one small document, generously


async def _bytes(store, fn) -> int:
    return (await store.transact(fn)).bytes_written


async def test_reads_write_nothing_and_an_insert_counts_its_json(open_test_store):
    store = await open_test_store(SCHEMA)
    assert (await store.transact(lambda tx: tx.query("notes"), read_only=True)).bytes_written == 0
    ascii_ = await _bytes(store, lambda tx: tx.insert("notes", {"text": TEXT}))
    assert len(TEXT) < ascii_ < len(TEXT) + OVERHEAD
    accented = await _bytes(store, lambda tx: tx.insert("notes", {"text": "é" * 10_000}))
    assert accented - ascii_ == 10_000  # UTF-8: two bytes each


async def test_each_index_adds_its_key(open_test_store):
    store = await open_test_store(SCHEMA)
    doc = {"a": "k" * 500, "b": 1.0}
    plain = await _bytes(store, lambda tx: tx.insert("notes", doc))
    indexed = await _bytes(store, lambda tx: tx.insert("indexed", doc))
    assert indexed - plain > 1000  # "a" is in both of its indexes' keys


async def test_a_patch_rewrites_the_whole_document_and_a_delete_costs_its_id(open_test_store):
    store = await open_test_store(SCHEMA)
    id = await store.run(lambda tx: tx.insert("notes", {"text": TEXT, "n": 1.0}))
    patched = await _bytes(store, lambda tx: tx.patch(id, {"n": 2.0}))
    assert len(TEXT) < patched < len(TEXT) + OVERHEAD
    assert 0 < await _bytes(store, lambda tx: tx.delete(id)) < 64

    async def twice(tx):
        other = await tx.insert("notes", {"text": TEXT})
        await tx.patch(other, {"n": 1.0})

    assert await _bytes(store, twice) > 2 * len(TEXT)  # both writes reach the database


async def test_vectors_count_four_bytes_a_number(open_test_store):
    store = await open_test_store(SCHEMA)
    without = await _bytes(store, lambda tx: tx.insert("vectors", {"group": "g"}))
    with_vector = await _bytes(
        store, lambda tx: tx.insert("vectors", {"group": "g", "v": [0.5] * 8})
    )
    assert with_vector - without >= 8 * 4


async def test_a_bulk_insert_counts_what_one_by_one_inserts_count(open_test_store):
    store = await open_test_store(SCHEMA)
    table = store.schema.table("indexed")
    number = store.table_numbers["indexed"]
    docs = [
        {"_id": encode_id(number, new_internal_id()), "_creationTime": 1.0e12, "a": str(n), "b": n}
        for n in range(10)
    ]
    prepared = [prepare_row(table, d, number) for d in docs]
    bulk = await _bytes(store, lambda tx: tx.insert_prepared("indexed", prepared))
    copies = [{**d, "_id": encode_id(number, new_internal_id())} for d in docs]
    one_by_one = await _bytes(store, lambda tx: tx.insert_many_with_ids("indexed", copies))
    assert bulk == one_by_one > 0


async def test_a_measured_insert_records_the_whole_transaction_itself_included(open_test_store):
    store = await open_test_store(SCHEMA)
    for padding in (0, 1, 3, 40):  # totals with different numbers of digits

        async def step(tx, padding=padding):
            for _ in range(padding):
                await tx.insert("notes", {"text": "y" * 300})
            return await tx.insert_measured("log", {"step": float(padding)}, "bytesWritten")

        done = await store.transact(step)
        row = await store.read(lambda tx, id=done.value: tx.get(id))
        assert row["bytesWritten"] == done.bytes_written
        assert done.bytes_written > padding * 300


async def test_a_measured_insert_refuses_a_bad_document(open_test_store):
    store = await open_test_store(SCHEMA)
    with pytest.raises(InvalidValueError):
        await store.run(lambda tx: tx.insert_measured("log", {"$bad": 1.0}, "bytesWritten"))
    assert await store.read(lambda tx: tx.query("log")) == []


@pytest.mark.timeout(240)
async def test_a_transaction_run_again_counts_only_its_last_run(open_test_store):
    store = await open_test_store(SCHEMA)
    id = await store.run(lambda tx: tx.insert("notes", {"n": 0.0}))
    single = await _bytes(store, lambda tx: tx.patch(id, {"n": 1.0}))

    async def increment(tx):
        doc = await tx.get(id)
        await tx.patch(id, {"n": float(doc["n"] + 1) if doc["n"] < 9 else doc["n"] - 8})

    async def worker() -> list[int]:
        return [await _bytes(store, increment) for _ in range(25)]

    counted = [n for ns in await asyncio.gather(*(worker() for _ in range(4))) for n in ns]
    assert set(counted) == {single}  # a lost race's writes are rolled back, not counted
