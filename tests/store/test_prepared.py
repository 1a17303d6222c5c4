"""Prepared rows (an import's write pass): checked once, refused with typed errors, and
inserted in one statement a batch on every provider."""

import pytest

from smalltown.store import (
    InvalidIdError,
    InvalidValueError,
    Schema,
    Table,
    VectorIndex,
    encode_id,
    open_store,
)
from smalltown.store.prepared import prepare_row

SCHEMA = Schema(
    [
        Table("notes", vector_indexes=[VectorIndex("v", "v", 3, filter_fields=["g"])]),
        Table("other"),
    ]
)


def note(number: int, i: int, **fields) -> dict:
    return {"_id": encode_id(number, bytes([i]) + bytes(15)), "_creationTime": 5.0 + i, **fields}


@pytest.fixture
async def store(store_url):
    s = await open_store(store_url, SCHEMA)
    yield s
    await s.close()


async def test_prepared_rows_read_back_with_keys_and_vectors(store):
    number, t = store.table_numbers["notes"], store.schema.table("notes")
    docs = [note(number, i, g=i % 2, v=[1.0, float(i), 0.0]) for i in range(5)]
    docs.append(note(number, 9, g=1, text="no vector"))
    await store.run(
        lambda tx: tx.insert_prepared("notes", [prepare_row(t, d, number) for d in docs])
    )
    assert await store.read(lambda tx: tx.query("notes")) == docs
    found = await store.read(
        lambda tx: tx.vector_search("notes", "v", [1.0, 4.0, 0.0], limit=2, filter={"g": 0})
    )
    assert [id for id, _ in found] == [docs[4]["_id"], docs[2]["_id"]]


async def test_bad_prepared_rows_are_refused_and_nothing_is_written(store):
    number, t = store.table_numbers["notes"], store.schema.table("notes")
    with pytest.raises(InvalidValueError, match="finite number"):
        prepare_row(t, {**note(number, 1), "_creationTime": float("inf")}, number)
    with pytest.raises(InvalidValueError, match="list of finite numbers"):
        prepare_row(t, note(number, 1, v="not a vector"), number)
    one = prepare_row(t, note(number, 1), number)
    await store.run(lambda tx: tx.insert_prepared("notes", [one]))
    other = store.table_numbers["other"]
    wrong_table = prepare_row(t, note(other, 2), other)
    for batch, message in [
        ([prepare_row(t, note(number, 3), number), wrong_table], "belongs to table number"),
        ([prepare_row(t, note(number, 4), number)] * 2, "appears twice"),
        ([prepare_row(t, note(number, 5), number), one], "already exists"),
    ]:
        with pytest.raises(InvalidIdError, match=message):
            await store.run(lambda tx, batch=batch: tx.insert_prepared("notes", batch))
    wider = SCHEMA.with_vector_dimensions("notes", "v", 4).table("notes")
    four = prepare_row(wider, note(number, 6, v=[1.0, 2.0, 3.0, 4.0]), number)
    with pytest.raises(InvalidValueError, match="4 dimensions"):
        await store.run(lambda tx: tx.insert_prepared("notes", [four]))
    assert await store.read(lambda tx: tx.count("notes")) == 1


@pytest.mark.parametrize(
    "vector",
    [
        [0.5, True, 0.25],  # numpy would read the bool as 1.0
        [False, 0.5, 0.25],
        [0.5, "0.5", 0.25],  # numpy would read the string as a number
        [0.5, None, 0.25],
        [0.5, [0.5], 0.25],
        [[0.5], [0.5], [0.5]],
    ],
)
def test_a_vector_item_that_is_not_a_number_is_refused(vector):
    t = SCHEMA.table("notes")
    with pytest.raises(InvalidValueError, match="list of finite numbers"):
        prepare_row(t, note(10001, 1, v=vector), 10001)


@pytest.mark.parametrize("vector", [[1, 2, 3], [0.0, 1.0, 1], [0.5, 2, -0.0], (0.5, 0.25, 1.5)])
def test_a_vector_of_ints_and_floats_is_taken_as_floats(vector):
    t = SCHEMA.table("notes")
    row = prepare_row(t, note(10001, 1, v=list(vector)), 10001)
    assert row.vectors["v"].vector.tolist() == [float(x) for x in vector]


def test_a_vector_read_once_still_leaves_the_rest_of_the_document_checked():
    t = Table("long", vector_indexes=[VectorIndex("v", "v", 64)])
    floats = [0.5 + i for i in range(64)]
    row = prepare_row(t, note(10001, 1, v=floats), 10001)
    assert row.vectors["v"].vector.tolist() == floats
    for bad in ({"$no": 1}, 2**63, {"deep": {"$no": 1}}):
        with pytest.raises(InvalidValueError):
            prepare_row(t, note(10001, 1, v=floats, other=bad), 10001)
    with pytest.raises(InvalidValueError, match="reserved"):
        prepare_row(t, {**note(10001, 1, v=floats), "_secret": 1}, 10001)


async def test_which_ids_exist_is_answered_exactly_whatever_the_ids_hold(store):
    number, t = store.table_numbers["notes"], store.schema.table("notes")
    rows = [prepare_row(t, note(number, i), number) for i in range(3)]
    await store.run(lambda tx: tx.insert_prepared("notes", rows))
    there = [row.id for row in rows[:2]]
    absent = note(number, 9)["_id"]
    for asked in ([*there, absent], [absent, *there, "no\nsuch", "a,b", "{x}"]):
        # (PostgreSQL sends plain ids as one string, anything else as a list)
        found = await store.read(lambda tx, asked=asked: tx._ptx.existing_ids(t, asked))
        assert found == set(there)


def test_a_vector_field_named_like_a_system_field_is_still_refused():
    t = Table("odd", vector_indexes=[VectorIndex("v", "_v", 40)])
    with pytest.raises(InvalidValueError, match="reserved"):
        prepare_row(t, note(10001, 1, _v=[0.5] * 40), 10001)
