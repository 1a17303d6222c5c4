"""A bulk load into an empty table may suspend its indexes (SQLite and PostgreSQL drop
their B-trees, PostgreSQL its HNSW graph) and build them once at its end: queries answer
the same throughout, and the indexes are all back afterwards."""

import sqlite3

import pytest

from smalltown.store import Index, Schema, Table, VectorIndex, encode_id, open_store
from smalltown.store.prepared import prepare_row

SCHEMA = Schema(
    [
        Table(
            "notes",
            indexes=[Index("by_author", ["author", "n"])],
            vector_indexes=[VectorIndex("v", "v", 4, filter_fields=["author"])],
        )
    ]
)


def _indexes(url: str) -> set[str] | None:
    """The table's index names as the database lists them (None: MongoDB, not looked at)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("://", 1)[1][1:]) as db:
            rows = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'st_notes'"
                " AND sql IS NOT NULL"
            ).fetchall()
        return {name for (name,) in rows}
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url) as db:
            rows = db.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'st_notes'"
            ).fetchall()
        return {name for (name,) in rows if not name.endswith("_pkey")}
    return None


def _docs(number: int, start: int, count: int) -> list[dict]:
    return [
        {
            "_id": encode_id(number, i.to_bytes(2, "big") + bytes(14)),
            "_creationTime": 1000.0 + i,
            "author": f"a{i % 3}",
            "n": i,
            "v": [1.0, float(i), 0.5, -1.0],
        }
        for i in range(start, start + count)
    ]


async def _by_author(store, author: str) -> list[int]:
    found = await store.read(
        lambda tx: tx.query("notes", "by_author", eq={"author": author}, order="desc")
    )
    return [d["n"] for d in found]


async def test_indexes_are_suspended_during_a_load_and_all_back_after(store_url):
    store = await open_store(store_url, SCHEMA)
    try:
        before = _indexes(store_url)
        number = store.table_numbers["notes"]
        table = store.schema.table("notes")
        first = [prepare_row(table, d, number) for d in _docs(number, 0, 60)]
        rest = [prepare_row(table, d, number) for d in _docs(number, 60, 60)]

        await store.begin_bulk_load("notes")
        if before is not None:
            assert before and not _indexes(store_url) & {n for n in before if "by_author" in n}
        await store.run(lambda tx: tx.insert_prepared("notes", first))
        assert await _by_author(store, "a1") == list(range(58, 0, -3))  # answered by a scan
        await store.begin_bulk_load("notes")  # rows already in: nothing more is dropped
        await store.run(lambda tx: tx.insert_prepared("notes", rest))
        await store.end_bulk_load("notes")

        assert _indexes(store_url) == before
        assert await _by_author(store, "a1") == list(range(118, 0, -3))
        hits = await store.read(
            lambda tx: tx.vector_search(
                "notes", "v", [1.0, 7.0, 0.5, -1.0], limit=1, filter={"author": "a1"}
            )
        )
        assert hits[0][0] == _docs(number, 7, 1)[0]["_id"]
    finally:
        await store.close()


@pytest.mark.parametrize("rows_first", [False, True])
async def test_a_table_with_rows_keeps_its_indexes(store_url, rows_first):
    store = await open_store(store_url, SCHEMA)
    try:
        before = _indexes(store_url)
        number = store.table_numbers["notes"]
        if rows_first:
            await store.run(lambda tx: tx.insert_many_with_ids("notes", _docs(number, 0, 5)))
        await store.begin_bulk_load("notes")
        if rows_first:
            assert _indexes(store_url) == before
        await store.end_bulk_load("notes")
        assert _indexes(store_url) == before
    finally:
        await store.close()
