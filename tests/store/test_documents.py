"""Conformance: documents in and out, on every provider."""

import math

import pytest

from smalltown.store import (
    UNDEFINED,
    DocumentNotFoundError,
    Index,
    InvalidQueryError,
    InvalidValueError,
    Range,
    Schema,
    Table,
    UnknownTableError,
    VectorIndex,
    decode_id,
)

SCHEMA = Schema([Table("notes", indexes=[Index("by_author", ["author"])]), Table("tags")])


async def test_insert_then_get_returns_the_document_with_system_fields(open_test_store):
    store = await open_test_store(SCHEMA)
    id = await store.run(lambda tx: tx.insert("notes", {"author": "ada", "text": "hi"}))
    doc = await store.read(lambda tx: tx.get(id))
    assert doc["_id"] == id
    assert doc["author"] == "ada" and doc["text"] == "hi"
    assert isinstance(doc["_creationTime"], float)
    assert decode_id(id)[0] == store.table_numbers["notes"]


async def test_every_value_type_survives_the_database(open_test_store):
    store = await open_test_store(SCHEMA)
    value = {
        "int": 1,
        "float": 1.0,
        "neg_zero": -0.0,
        "big_float": 1e20,
        "inf": math.inf,
        "ninf": -math.inf,
        "max_int": 2**63 - 1,
        "min_int": -(2**63),
        "bytes": b"\x00\xff",
        "null": None,
        "bools": [True, False],
        "nested": {"a": [1, 2.5, {"b": "c"}], "empty": {}, "none": []},
        "unicode": "é\u4e2d\U0001f600",
    }
    id = await store.run(lambda tx: tx.insert("notes", {**value, "nan": math.nan}))
    doc = await store.read(lambda tx: tx.get(id))
    assert math.isnan(doc.pop("nan"))
    for key, expected in value.items():
        assert doc[key] == expected and type(doc[key]) is type(expected), key
    assert math.copysign(1.0, doc["neg_zero"]) == -1.0


async def test_patch_merges_shallowly_and_undefined_removes(open_test_store):
    store = await open_test_store(SCHEMA)
    id = await store.run(lambda tx: tx.insert("notes", {"a": 1, "b": {"x": 1}, "c": 3}))
    await store.run(lambda tx: tx.patch(id, {"a": 2, "b": {"y": 2}, "c": UNDEFINED, "d": None}))
    doc = await store.read(lambda tx: tx.get(id))
    assert {k: v for k, v in doc.items() if not k.startswith("_")} == {
        "a": 2,
        "b": {"y": 2},
        "d": None,
    }


async def test_replace_keeps_system_fields_and_drops_the_rest(open_test_store):
    store = await open_test_store(SCHEMA)
    id = await store.run(lambda tx: tx.insert("notes", {"a": 1, "b": 2}))
    before = await store.read(lambda tx: tx.get(id))
    await store.run(lambda tx: tx.replace(id, {"z": "new"}))
    after = await store.read(lambda tx: tx.get(id))
    assert after == {"_id": id, "_creationTime": before["_creationTime"], "z": "new"}


async def test_delete_then_get_is_none_and_second_delete_fails(open_test_store):
    store = await open_test_store(SCHEMA)
    id = await store.run(lambda tx: tx.insert("notes", {"a": 1}))
    await store.run(lambda tx: tx.delete(id))
    assert await store.read(lambda tx: tx.get(id)) is None
    with pytest.raises(DocumentNotFoundError, match=id):
        await store.run(lambda tx: tx.delete(id))
    with pytest.raises(DocumentNotFoundError):
        await store.run(lambda tx: tx.patch(id, {"a": 2}))


async def test_system_fields_cannot_be_written(open_test_store):
    store = await open_test_store(SCHEMA)
    with pytest.raises(InvalidValueError, match="_id"):
        await store.run(lambda tx: tx.insert("notes", {"_id": "x"}))
    id = await store.run(lambda tx: tx.insert("notes", {"a": 1}))
    with pytest.raises(InvalidValueError, match="_creationTime"):
        await store.run(lambda tx: tx.patch(id, {"_creationTime": 5.0}))


async def test_data_survives_reopening(open_test_store, store_url):
    store = await open_test_store(SCHEMA)
    id = await store.run(lambda tx: tx.insert("notes", {"a": 1}))
    numbers = store.table_numbers
    await store.close()
    again = await open_test_store(SCHEMA)
    assert again.table_numbers == numbers
    assert (await again.read(lambda tx: tx.get(id)))["a"] == 1


async def test_tables_are_numbered_from_10001_and_keep_their_numbers(open_test_store):
    store = await open_test_store(SCHEMA)
    assert sorted(store.table_numbers.values()) == [10001, 10002]
    grown = Schema([*SCHEMA.tables, Table("later")])
    await store.apply_schema(grown)
    assert store.table_numbers["later"] == 10003
    assert store.table_numbers["notes"] == 10001


async def test_insert_with_id_keeps_imported_system_fields(open_test_store):
    from smalltown.store import InvalidIdError, encode_id
    from smalltown.store.ids import new_internal_id

    store = await open_test_store(SCHEMA)
    id = encode_id(store.table_numbers["notes"], new_internal_id())
    doc = {"_id": id, "_creationTime": 1773731010136.8516, "author": "imported"}
    await store.run(lambda tx: tx.insert_with_id("notes", doc))
    assert await store.read(lambda tx: tx.get(id)) == doc
    with pytest.raises(InvalidIdError, match="already exists"):
        await store.run(lambda tx: tx.insert_with_id("notes", doc))
    with pytest.raises(InvalidIdError, match="not to 'tags'"):
        await store.run(lambda tx: tx.insert_with_id("tags", doc))
    assert await store.read(lambda tx: tx.count("tags")) == 0


async def test_a_closed_store_refuses_work_clearly(open_test_store):
    from smalltown.store import StoreConnectionError

    store = await open_test_store(SCHEMA)
    await store.close()
    with pytest.raises(StoreConnectionError, match="closed"):
        await store.read(lambda tx: tx.count("notes"))


async def test_empty_tables_can_take_the_numbers_an_import_needs(open_test_store):
    from smalltown.store import SchemaError, encode_id
    from smalltown.store.ids import new_internal_id

    store = await open_test_store(SCHEMA)  # notes 10001, tags 10002
    await store.set_table_numbers({"tags": 10001, "notes": 10007})
    assert store.table_numbers == {"tags": 10001, "notes": 10007}
    imported = encode_id(10007, new_internal_id())
    await store.run(
        lambda tx: tx.insert_with_id(
            "notes", {"_id": imported, "_creationTime": 1.5, "author": "x"}
        )
    )
    assert (await store.read(lambda tx: tx.get(imported)))["author"] == "x"
    with pytest.raises(SchemaError, match="notes"):
        await store.set_table_numbers({"notes": 10009})  # it holds a document now
    again = await open_test_store(SCHEMA)  # the numbers are recorded
    assert again.table_numbers == {"tags": 10001, "notes": 10007}


async def test_system_tables_are_numbered_apart_so_a_snapshot_s_numbers_never_meet_them(
    open_test_store,
):
    names = ["notes", "_secrets", "tags", "_jobs", "extra"]
    schema = Schema([Table(name) for name in names])
    store = await open_test_store(schema)
    numbers = lambda: [store.table_numbers[name] for name in names]  # noqa: E731
    assert numbers() == [10001, 16320, 10002, 16321, 10003]
    await store.run(lambda tx: tx.insert("_secrets", {"key": "kept"}))
    # An export's numbers: the app's tables counted from 10001 in another order. The
    # system table holding a document is not in the way; the empty app table that is
    # gets a new number, past the highest (numbers are never given twice).
    await store.set_table_numbers({"tags": 10001, "notes": 10003})
    assert numbers() == [10003, 16320, 10001, 16321, 10004]
    await store.apply_schema(Schema([*schema.tables, Table("later"), Table("_later")]))
    assert (store.table_numbers["later"], store.table_numbers["_later"]) == (10005, 16322)
    assert (await store.read(lambda tx: tx.first("_secrets")))["key"] == "kept"


STEPS = Schema([Table("steps", indexes=[Index("by_step", ["world", "step"])])])
BULK = Schema(
    [
        Table(
            "memories",
            indexes=[Index("by_player", ["player"])],
            vector_indexes=[VectorIndex("by_embedding", "embedding", 40, ["player"])],
        ),
        Table("tags"),
    ]
)


async def test_delete_some_empties_a_table_a_batch_at_a_time(open_test_store):
    store = await open_test_store(BULK)

    async def fill(tx):
        tag = await tx.insert("tags", {"name": "kept"})
        ids = [
            await tx.insert(
                "memories", {"player": f"p{i % 2}", "embedding": [float(i + 1)] + [0.5] * 39}
            )
            for i in range(7)
        ]
        return tag, ids

    tag, ids = await store.run(fill)
    first, rest = ids[:3], ids[3:]  # the oldest go first

    async def delete_three_then_look(tx):
        went = await tx.delete_some("memories", 3)
        hits = await tx.vector_search("memories", "by_embedding", [1.0] * 40, limit=10)
        return went, [h["_id"] for h in await tx.query("memories")], [id for id, _ in hits]

    committed = await store.transact(delete_three_then_look)
    went, listed, searched = committed.value
    assert went == 3 and listed == rest and sorted(searched) == sorted(rest)  # its own deletes seen
    assert {w.id for w in committed.writes} == set(first)
    assert all(w.new_keys is None and "by_player" in w.old_keys for w in committed.writes)
    assert [h["_id"] for h in await store.read(lambda tx: tx.query("memories"))] == rest
    for player in ("p0", "p1"):  # the index lost its entries too
        found = await store.read(
            lambda tx, p=player: tx.query("memories", "by_player", eq={"player": p})
        )
        assert {h["_id"] for h in found} <= set(rest)
    hits = await store.read(
        lambda tx: tx.vector_search("memories", "by_embedding", [1.0] * 40, limit=10)
    )
    assert sorted(id for id, _ in hits) == sorted(rest)

    counts = [await store.run(lambda tx: tx.delete_some("memories", 3)) for _ in range(3)]
    assert counts == [3, 1, 0]
    assert await store.read(lambda tx: tx.count("memories")) == 0
    assert (await store.read(lambda tx: tx.get(tag)))["name"] == "kept"


@pytest.mark.parametrize("limit", [0, -1, True, 2.0, "3", None])
async def test_delete_some_refuses_a_bad_limit_and_deletes_nothing(open_test_store, limit):
    store = await open_test_store(SCHEMA)
    await store.run(lambda tx: tx.insert("notes", {"author": "ada"}))
    with pytest.raises(InvalidQueryError, match="limit must be a positive integer"):
        await store.run(lambda tx: tx.delete_some("notes", limit))
    with pytest.raises(UnknownTableError):
        await store.run(lambda tx: tx.delete_some("nope", 1))
    assert await store.read(lambda tx: tx.count("notes")) == 1


async def test_delete_all_empties_a_table_in_batches_and_counts(open_test_store):
    store = await open_test_store(SCHEMA)

    async def fill(tx):
        for i in range(7):
            await tx.insert("notes", {"author": f"a{i}"})
        await tx.insert("tags", {"name": "kept"})

    await store.run(fill)
    commits = []
    store.on_commit(lambda ts, writes: commits.append(len(writes)))
    assert await store.delete_all("notes", batch=3) == 7
    assert commits == [3, 3, 1]  # a transaction a batch
    assert await store.read(lambda tx: tx.count("notes")) == 0
    assert await store.read(lambda tx: tx.count("tags")) == 1
    assert await store.delete_all("notes") == 0


async def test_delete_some_and_delete_all_take_a_query_s_index_eq_and_range(open_test_store):
    store = await open_test_store(STEPS)

    async def fill(tx):
        for world in ("w1", "w2"):
            for step in range(10):
                await tx.insert("steps", {"world": world, "step": float(step)})

    await store.run(fill)
    old = {"index": "by_step", "eq": {"world": "w1"}, "range": Range("step", lt=6.0)}
    assert await store.run(lambda tx: tx.delete_some("steps", 4, **old)) == 4
    assert await store.delete_all("steps", batch=1, **old) == 2
    left = await store.read(lambda tx: tx.query("steps", "by_step", eq={"world": "w1"}))
    assert [d["step"] for d in left] == [6.0, 7.0, 8.0, 9.0]
    assert await store.read(lambda tx: tx.count("steps")) == 14  # w2 untouched
    with pytest.raises(InvalidQueryError, match="equality must name a prefix"):
        await store.run(lambda tx: tx.delete_some("steps", 1, "by_step", eq={"step": 1.0}))
    assert await store.read(lambda tx: tx.count("steps")) == 14
