"""What only PostgreSQL has: the HNSW path for broad vector filters, and pgvector checks."""

import numpy as np
import pytest

from smalltown.store import Schema, Table, VectorIndex, open_store
from smalltown.store import postgres as pg

DIMS = 32


async def test_filtered_search_through_hnsw_keeps_recall_and_fills_the_limit(
    postgres_url, monkeypatch
):
    # Force the approximate path even for small filters, as broad filters take it.
    monkeypatch.setattr(pg, "EXACT_SEARCH_ROWS", 0)
    schema = Schema(
        [Table("docs", vector_indexes=[VectorIndex("v", "v", DIMS, filter_fields=["g"])])]
    )
    store = await open_store(postgres_url, schema)
    try:
        rng = np.random.default_rng(7)
        vectors = rng.normal(size=(4000, DIMS)).astype(np.float32)
        groups = rng.integers(0, 40, 4000)  # each group is 2.5% of the rows

        async def insert(tx, lo):
            return [
                await tx.insert("docs", {"v": [float(x) for x in vectors[i]], "g": int(groups[i])})
                for i in range(lo, lo + 500)
            ]

        ids = []
        for lo in range(0, 4000, 500):
            ids += await store.run(lambda tx, lo=lo: insert(tx, lo))
        normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        hits = 0
        for q in range(20):
            query = rng.normal(size=DIMS).astype(np.float32)
            group = int(q % 40)
            got = await store.read(
                lambda tx, query=query, group=group: tx.vector_search(
                    "docs", "v", [float(x) for x in query], limit=10, filter={"g": group}
                )
            )
            assert len(got) == 10  # iterative scans keep going past non-matching neighbours
            order = [
                i
                for i in np.argsort(-(normed @ (query / np.linalg.norm(query))))
                if groups[i] == group
            ]
            hits += len({ids[i] for i in order[:10]} & {id for id, _ in got})
        assert hits / 200 >= 0.9
    finally:
        await store.close()


@pytest.mark.parametrize("dims", [16, 2500])
async def test_vector_columns_are_stored_inline(postgres_url, dims):
    import psycopg

    schema = Schema([Table("t", vector_indexes=[VectorIndex("v", "v", dims)])])
    store = await open_store(postgres_url, schema)
    await store.close()
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        cur = await conn.execute(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'st_t'::regclass "
            "AND attname = 'v_v'"
        )
        assert (await cur.fetchone())[0] == "m"  # MAIN


async def _hnsw_indexes(url: str) -> list[str]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%' ORDER BY 1"
        )
        return [name for (name,) in await cur.fetchall()]


async def test_a_bulk_load_builds_the_hnsw_index_once_at_the_end(postgres_url):
    from smalltown.store.ids import encode_id
    from smalltown.store.prepared import prepare_row

    schema = Schema([Table("docs", vector_indexes=[VectorIndex("v", "v", DIMS)])])
    store = await open_store(postgres_url, schema)
    try:
        assert await _hnsw_indexes(postgres_url) == ["vx_docs_v"]
        number = store.table_numbers["docs"]
        rng = np.random.default_rng(3)
        docs = [
            {
                "_id": encode_id(number, bytes([i % 256, i // 256]) + bytes(14)),
                "_creationTime": 1000.0 + i,
                "v": [float(x) for x in rng.normal(size=DIMS)],
            }
            for i in range(300)
        ]
        rows = [prepare_row(store.schema.table("docs"), d, number) for d in docs]

        await store.begin_bulk_load("docs")  # empty: the index goes
        assert await _hnsw_indexes(postgres_url) == []
        await store.run(lambda tx: tx.insert_prepared("docs", rows[:100]))
        # Interrupted here; run again: the table has rows, and its index stays away.
        await store.begin_bulk_load("docs")
        await store.run(lambda tx: tx.insert_prepared("docs", rows[100:]))
        found = await store.read(lambda tx: tx.vector_search("docs", "v", docs[7]["v"], limit=1))
        assert found[0][0] == docs[7]["_id"]  # searched exactly meanwhile
        await store.end_bulk_load("docs")
        assert await _hnsw_indexes(postgres_url) == ["vx_docs_v"]
        got = await store.read(lambda tx: tx.get(docs[250]["_id"]))
        assert got == docs[250]

        await store.begin_bulk_load("docs")  # rows that a finished load left: kept
        assert await _hnsw_indexes(postgres_url) == ["vx_docs_v"]
    finally:
        await store.close()


async def _column(url: str, table: str, column: str) -> tuple[str, str]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT format_type(atttypid, NULL), attcompression FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = %s",
            (f'"st_{table}"', column),
        )
        return await cur.fetchone()


async def test_documents_are_json_text_compressed_with_lz4(postgres_url):
    schema = Schema([Table("t", vector_indexes=[VectorIndex("v", "v", DIMS)])])
    store = await open_store(postgres_url, schema)
    await store.close()
    assert await _column(postgres_url, "t", "doc") == ("json", "l")
    assert (await _column(postgres_url, "t", "v_v"))[1] == "l"


async def test_a_table_an_earlier_version_made_with_jsonb_becomes_json_and_keeps_its_rows(
    postgres_url,
):
    import psycopg

    schema = Schema([Table("t")])
    store = await open_store(postgres_url, schema)
    body = {"n": 1, "x": -0.0, "s": "é", "nested": {"z": [1.5, "b"], "a": None}}
    id = await store.run(lambda tx: tx.insert("t", body))
    await store.close()
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        await conn.execute('ALTER TABLE "st_t" ALTER COLUMN doc TYPE jsonb USING doc::jsonb')
        await conn.commit()
    assert (await _column(postgres_url, "t", "doc"))[0] == "jsonb"

    store = await open_store(postgres_url, schema)
    try:
        assert await _column(postgres_url, "t", "doc") == ("json", "l")
        got = await store.read(lambda tx: tx.get(id))
        assert {k: v for k, v in got.items() if not k.startswith("_")} == body
        await store.run(lambda tx: tx.patch(id, {"n": 2}))
        assert (await store.read(lambda tx: tx.get(id)))["n"] == 2
    finally:
        await store.close()
