"""``smalltown bench store``: what one provider does per second on this machine.

Creates its own tables (``bench_*``) in the given database and drops nothing else; point it
at a scratch database. Figures: inserts/s one per transaction and batched, point reads/s,
index query latency, and filtered vector search latency at each vector count, with a filter
that matches 1% of rows.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

import numpy as np

from smalltown.bench.stats import latency, timed_each
from smalltown.store import Index, Schema, Table, VectorIndex, open_store

GROUPS = 100  # the vector filter matches 1 row in GROUPS


def _schema(dims: int) -> Schema:
    return Schema(
        [
            Table("bench_docs", indexes=[Index("by_kind_n", ["kind", "n"])]),
            Table(
                "bench_vectors",
                vector_indexes=[
                    VectorIndex("by_embedding", "embedding", dims, filter_fields=["group"])
                ],
            ),
        ]
    )


async def run(
    url: str,
    vector_counts: list[int],
    dims: int = 1024,
    searches: int = 200,
    out: Callable[[str], None] = print,
    reuse_vectors: bool = False,
) -> dict[str, float]:
    figures: dict[str, float] = {}
    store = await open_store(url, _schema(dims))
    out(f"smalltown bench store: {store.provider_name} at {store.url}")
    out(f"machine: {platform.machine()}, python {platform.python_version()}, {os.cpu_count()} cpus")
    try:
        await _clear(store, "bench_docs")
        await _documents(store, figures, out)
        loaded = await store.read(lambda tx: tx.count("bench_vectors")) if reuse_vectors else 0
        if loaded and loaded <= min(vector_counts):
            out(f"reusing {loaded:,} vectors already loaded")
        else:
            await _clear(store, "bench_vectors")
            loaded = 0
        rng = np.random.default_rng(0)
        for target in sorted(vector_counts):
            if loaded < target:
                start, before = time.perf_counter(), loaded
                loaded = await _load_vectors(store, rng, dims, loaded, target, out)
                rate = (loaded - before) / max(time.perf_counter() - start, 1e-9)
                figures[f"vector_inserts_per_s_{target}"] = rate
                out(f"vector inserts: {rate:,.0f}/s ({dims}-d, transactions of 500)")
            await _vector_search(store, rng, dims, target, searches, figures, out)
    finally:
        await store.close()
    return figures


async def _clear(store, table: str) -> None:
    while True:

        async def batch(tx):
            docs = await tx.query(table, limit=500)
            for d in docs:
                await tx.delete(d["_id"])
            return len(docs)

        if not await store.run(batch):
            return


async def _documents(store, figures: dict[str, float], out) -> None:
    single = 1000
    start = time.perf_counter()
    for i in range(single):
        await store.run(
            lambda tx, i=i: tx.insert("bench_docs", {"kind": i % 10, "n": i, "text": "x" * 64})
        )
    figures["inserts_per_s_single"] = single / (time.perf_counter() - start)

    batches, size = 20, 1000

    async def insert_batch(tx, b):
        return [
            await tx.insert("bench_docs", {"kind": i % 10, "n": i, "text": "y" * 64})
            for i in range(b * size, (b + 1) * size)
        ]

    ids: list[str] = []
    start = time.perf_counter()
    for b in range(batches):
        ids += await store.run(lambda tx, b=b: insert_batch(tx, b))
    figures["inserts_per_s_batched"] = batches * size / (time.perf_counter() - start)
    out(
        f"inserts: {figures['inserts_per_s_single']:,.0f}/s one per transaction, "
        f"{figures['inserts_per_s_batched']:,.0f}/s in transactions of {size}"
    )

    reads = 3000
    rng = np.random.default_rng(1)
    picks = [ids[int(i)] for i in rng.integers(0, len(ids), reads)]
    start = time.perf_counter()
    for id in picks:
        await store.read(lambda tx, id=id: tx.get(id))
    figures["point_reads_per_s"] = reads / (time.perf_counter() - start)
    out(f"point reads: {figures['point_reads_per_s']:,.0f}/s (one read transaction each)")

    samples = await timed_each(
        1000,
        lambda i: store.read(
            lambda tx: tx.query(
                "bench_docs", "by_kind_n", eq={"kind": i % 10}, order="desc", limit=10
            )
        ),
    )
    figures["index_query_p50_ms"] = sorted(samples)[len(samples) // 2]
    out(f"index query (equality + order + limit 10): {latency(samples)}")


async def _load_vectors(store, rng, dims: int, have: int, target: int, out) -> int:
    batch = 500
    start = time.perf_counter()
    while have < target:
        n = min(batch, target - have)
        vectors = rng.normal(size=(n, dims)).astype(np.float32)

        async def insert(tx, vectors=vectors, base=have):
            for i, v in enumerate(vectors):
                await tx.insert(
                    "bench_vectors", {"embedding": v.tolist(), "group": (base + i) % GROUPS}
                )

        await store.run(insert)
        have += n
        if have % 10_000 == 0 or have == target:
            elapsed = time.perf_counter() - start
            out(f"  loaded {have:,} vectors ({elapsed:.0f} s so far)")
    return have


async def _vector_search(store, rng, dims, count, searches, figures, out) -> None:
    queries = rng.normal(size=(searches, dims)).astype(np.float32)

    def search(i: int, filtered: bool):
        flt = {"group": int(i % GROUPS)} if filtered else None
        return store.read(
            lambda tx: tx.vector_search(
                "bench_vectors",
                "by_embedding",
                queries[i % searches].tolist(),
                limit=10,
                filter=flt,
            )
        )

    # One untimed pass over every filter value first: the figures are for a warm cache,
    # as in a running town; a cold first search reads its rows from disk.
    for group in range(GROUPS):
        await search(group, True)
    filtered = await timed_each(searches, lambda i: search(i, True))
    unfiltered = await timed_each(max(20, searches // 4), lambda i: search(i, False))
    figures[f"vector_filtered_p50_ms_{count}"] = sorted(filtered)[len(filtered) // 2]
    out(f"vector search, {count:,} x {dims}-d, top 10, filter matching 1%: {latency(filtered)}")
    out(f"vector search, {count:,} x {dims}-d, top 10, no filter: {latency(unfiltered)}")
