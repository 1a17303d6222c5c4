"""Tables no schema declares are kept, as Convex keeps them; a declared ``document``
validator refuses what does not fit. On every provider."""

import pytest

from smalltown.store import Index, Schema, Table, open_store
from smalltown.store.validators import DocumentMismatchError, v

WITH_NOTES = Schema([Table("notes", indexes=[Index("by_author", ["author"])])])


async def test_a_table_the_schema_lacks_is_kept_with_its_number_and_indexes(store_url):
    first = await open_store(store_url, WITH_NOTES)
    try:
        number = first.table_numbers["notes"]
        await first.run(lambda tx: tx.insert("notes", {"author": "ada", "n": 1}))
        assert first.undeclared == frozenset()
    finally:
        await first.close()
    bare = await open_store(store_url, Schema([]))  # an app that does not declare it
    try:
        assert bare.undeclared == {"notes"} and bare.table_numbers["notes"] == number
        await bare.run(lambda tx: tx.insert("notes", {"author": "bo", "n": 2}))
        found = await bare.read(lambda tx: tx.query("notes", "by_author", eq={"author": "bo"}))
        assert [d["n"] for d in found] == [2]  # the index it was stored with still answers
        await bare.add_undeclared_tables(["scraps"])
        assert bare.undeclared == {"notes", "scraps"}
        await bare.apply_schema(bare.schema.merged([Table("more")]))  # carried over as they are
        assert bare.undeclared == {"notes", "scraps"} and "more" in bare.table_numbers
        scrap = await bare.run(lambda tx: tx.insert("scraps", {"any": [b"\x01", 2, None]}))
        newest = await bare.read(lambda tx: tx.query("scraps", "by_creation_time", order="desc"))
        assert [d["_id"] for d in newest] == [scrap]
    finally:
        await bare.close()
    again = await open_store(store_url, WITH_NOTES)
    try:
        assert again.undeclared == {"scraps", "more"}  # notes: declared by the schema again
        assert await again.read(lambda tx: tx.count("notes")) == 2
    finally:
        await again.close()


TYPED = Schema(
    [
        Table(
            "people",
            document={
                "name": v.string(),
                "age": v.optional(v.int64()),
                "tags": v.array(v.union(v.string(), v.null())),
                "home": v.object({"city": v.string(), "zip": v.optional(v.bytes())}),
                "kind": v.union(v.literal("human"), v.literal("robot")),
            },
        )
    ]
)
PERSON = {"name": "Ada", "tags": ["x", None], "home": {"city": "Oslo"}, "kind": "human"}


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"age": 36.0}, "age", "must be an int64, got float64"),
        ({"tags": ["x", 3]}, "tags[1]", "must be a string or a null, got int64"),
        ({"home": {"city": 7}}, "home.city", "must be a string, got int64"),
        ({"kind": "cat"}, "kind", "must be the literal 'human' or the literal 'robot'"),
        ({"extra": 1}, "extra", "is not in the schema"),
    ],
)
async def test_a_declared_document_validator_refuses_what_does_not_fit(
    open_test_store, change, field, why
):
    store = await open_test_store(TYPED)
    kept = await store.run(lambda tx: tx.insert("people", {**PERSON, "age": 36}))
    with pytest.raises(DocumentMismatchError) as refused:
        await store.run(lambda tx: tx.insert("people", {**PERSON, **change}))
    assert refused.value.field == field and why in str(refused.value)
    with pytest.raises(DocumentMismatchError):
        await store.run(lambda tx: tx.patch(kept, change))
    with pytest.raises(DocumentMismatchError, match="field name is required and missing"):
        await store.run(
            lambda tx: tx.replace(kept, {k: x for k, x in PERSON.items() if k != "name"})
        )
    assert (await store.read(lambda tx: tx.get(kept)))["age"] == 36  # nothing changed
