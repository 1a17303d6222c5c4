"""Conformance: bad input gets a typed error that says what to fix, and changes nothing."""

import pytest

from smalltown.store import (
    Index,
    InvalidIdError,
    InvalidValueError,
    Schema,
    SchemaError,
    StoreConnectionError,
    Table,
    UnknownIndexError,
    UnknownTableError,
    VectorIndex,
    encode_id,
    open_store,
)
from smalltown.store.ids import new_internal_id

SCHEMA = Schema([Table("a", indexes=[Index("by_x", ["x"])]), Table("b")])


async def _snapshot(store):
    async def all_docs(tx):
        return {t: await tx.query(t) for t in ("a", "b")}

    return await store.read(all_docs)


@pytest.fixture
async def seeded(open_test_store):
    store = await open_test_store(SCHEMA)
    a = await store.run(lambda tx: tx.insert("a", {"x": 1}))
    b = await store.run(lambda tx: tx.insert("b", {"y": 2}))
    return store, a, b


BAD_WRITES = [
    ("unknown table", lambda tx, a, b: tx.insert("nope", {}), UnknownTableError, "nope"),
    ("set value", lambda tx, a, b: tx.insert("a", {"x": {1, 2}}), InvalidValueError, "set"),
    ("object value", lambda tx, a, b: tx.insert("a", {"x": object()}), InvalidValueError, "x"),
    ("int too big", lambda tx, a, b: tx.insert("a", {"x": 2**64}), InvalidValueError, "64-bit"),
    ("dollar field", lambda tx, a, b: tx.insert("a", {"$x": 1}), InvalidValueError, r"\$"),
    ("not a dict", lambda tx, a, b: tx.insert("a", [1]), InvalidValueError, "dict"),
    ("malformed id", lambda tx, a, b: tx.patch("garbage", {"x": 2}), InvalidIdError, "garbage"),
    ("id of other table", lambda tx, a, b: tx.patch(b, {"x": 2}, table="a"), InvalidIdError, "'b'"),
    ("bad patch value", lambda tx, a, b: tx.patch(a, {"x": 1j}), InvalidValueError, "complex"),
    (
        "oversize",
        lambda tx, a, b: tx.insert("a", {"x": "z" * (1 << 20)}),
        InvalidValueError,
        "limit",
    ),
]


@pytest.mark.parametrize(
    ("case", "write", "error", "message"), BAD_WRITES, ids=[c[0] for c in BAD_WRITES]
)
async def test_bad_writes_raise_typed_errors_and_change_nothing(
    seeded, case, write, error, message
):
    store, a, b = seeded
    before = await _snapshot(store)

    async def body(tx):
        await tx.insert("b", {"y": "written before the bad write"})
        await write(tx, a, b)

    with pytest.raises(error, match=message):
        await store.run(body)
    assert await _snapshot(store) == before


async def test_bad_reads_raise_typed_errors(seeded):
    store, a, _ = seeded
    with pytest.raises(UnknownTableError, match="declares: a, b"):
        await store.read(lambda tx: tx.query("zzz"))
    with pytest.raises(UnknownIndexError, match="by_x"):
        await store.read(lambda tx: tx.query("a", "by_y"))
    with pytest.raises(InvalidIdError):
        await store.read(lambda tx: tx.get("jh71zt54gee06bn1m56tnxqbcx833qt3"))
    unknown_table_id = encode_id(20000, new_internal_id())
    with pytest.raises(InvalidIdError, match="20000"):
        await store.read(lambda tx: tx.get(unknown_table_id))
    with pytest.raises(InvalidIdError, match="not to 'b'"):
        await store.read(lambda tx: tx.get(a, table="b"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Table("1bad"),
        lambda: Table("t", indexes=[Index("by_id", ["x"])]),
        lambda: Table("t", indexes=[Index("i", [])]),
        lambda: Table("t", indexes=[Index("i", ["x"]), Index("i", ["y"])]),
        lambda: Table("t", indexes=[Index("i", ["_creationTime"])]),
        lambda: Table("t", indexes=[Index("i", ["a..b"])]),
        lambda: VectorIndex("v", field="e", dimensions=1),
        lambda: VectorIndex("v", field="e", dimensions=5000),
        lambda: VectorIndex(
            "v", field="e", dimensions=8, filter_fields=[f"f{i}" for i in range(17)]
        ),
        lambda: Schema([Table("t"), Table("t")]),
    ],
)
def test_invalid_schemas_are_refused(make):
    with pytest.raises(SchemaError):
        make()


async def test_adding_an_index_backfills_existing_documents(open_test_store):
    store = await open_test_store(Schema([Table("t")]))
    for x in (3, 1, 2):
        await store.run(lambda tx, x=x: tx.insert("t", {"x": x, "e": [float(x), 1.0]}))
    await store.apply_schema(
        Schema(
            [
                Table(
                    "t",
                    indexes=[Index("by_x", ["x"])],
                    vector_indexes=[VectorIndex("by_e", field="e", dimensions=2)],
                )
            ]
        )
    )
    docs = await store.read(lambda tx: tx.query("t", "by_x"))
    assert [d["x"] for d in docs] == [1, 2, 3]
    best = await store.read(lambda tx: tx.vector_search("t", "by_e", [1.0, 0.0], limit=1))
    assert best[0][0] == docs[2]["_id"]


async def test_changing_a_vector_dimension_over_existing_data_is_refused(open_test_store):
    old = Schema([Table("t", vector_indexes=[VectorIndex("v", field="e", dimensions=2)])])
    store = await open_test_store(old)
    await store.run(lambda tx: tx.insert("t", {"e": [1.0, 2.0]}))
    new = Schema([Table("t", vector_indexes=[VectorIndex("v", field="e", dimensions=3)])])
    with pytest.raises(SchemaError, match=r"2 dimensions.*has 3"):
        await store.apply_schema(new)
    # Still usable with the old dimension.
    assert len(await store.read(lambda tx: tx.vector_search("t", "v", [1.0, 2.0]))) == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "not a database URL"),
        ("mysql://root@127.0.0.1/x", "unknown database scheme"),
        ("sqlite:///:memory:", "file path"),
        ("postgresql://someone:hunter2@127.0.0.1:1/db", "cannot connect"),
        ("postgresql://x:hunter2@127.0.0.1:5432/db?bogus_option=1", "cannot connect"),
    ],
)
async def test_bad_urls_fail_at_open_with_the_url_but_not_the_password(url, message):
    with pytest.raises(StoreConnectionError, match=message) as info:
        await open_store(url)
    assert "hunter2" not in str(info.value)
    if "hunter2" in url:
        assert "***" in str(info.value)


async def test_an_unwritable_sqlite_path_fails_at_open(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreConnectionError, match="folder"):
        await open_store(f"sqlite:///{blocker}/inside/db.sqlite")
