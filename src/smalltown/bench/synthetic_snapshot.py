"""A made-up town's Convex snapshot ZIP of any size, for the import benchmark and tests.

Three of AI Town's tables: ``messages`` and ``memories`` (small documents) and
``memoryEmbeddings`` (one vector each). Written the way ``npx convex export`` writes a
snapshot (uniform format), streamed entry by entry so building a large one needs little
memory. Seeded: the same arguments give the same ZIP, ids included.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import numpy as np

from smalltown.migrate.export_json import dumps
from smalltown.store import encode_id

NUMBERS = {"messages": 10040, "memories": 10041, "memoryEmbeddings": 10042}
DAY = 20529  # 2026-03-17, as a real export's ids carry
START_MS = 1773731010136.8516


def _id(rng: random.Random, number: int) -> str:
    return encode_id(number, rng.randbytes(14) + DAY.to_bytes(2, "big"))


def build_snapshot(
    path: str | Path, docs: int, vectors: int | None = None, dims: int = 1024, seed: int = 0
) -> dict[str, int]:
    """Write ``docs`` documents, ``vectors`` of them embeddings (default a tenth), half of
    the rest messages and half memories. Returns the count per table."""
    vectors = docs // 10 if vectors is None else min(vectors, docs)
    small = docs - vectors
    counts = {
        "messages": small - small // 2,
        "memories": small // 2,
        "memoryEmbeddings": vectors,
    }
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("README.md", "A synthetic town for `smalltown bench import`.\n")
        z.writestr(
            "_tables/documents.jsonl",
            "".join(json.dumps({"name": t, "id": n}) + "\n" for t, n in NUMBERS.items()),
        )
        for table, count in counts.items():
            number = NUMBERS[table]
            with z.open(f"{table}/documents.jsonl", "w") as entry:
                for i in range(count):
                    doc = {"_id": _id(rng, number), "_creationTime": START_MS + i * 1.25}
                    doc.update(_body(table, i, rng, np_rng, dims))
                    entry.write((dumps(doc) + "\n").encode())
            z.writestr(f"{table}/generated_schema.jsonl", '"uniform"\n')
    return counts


def _body(
    table: str, i: int, rng: random.Random, np_rng: np.random.Generator, dims: int
) -> dict[str, object]:
    player = f"p:{i % 25}"
    if table == "messages":
        return {
            "worldId": "w:1",
            "conversationId": f"c:{i // 8}",
            "author": player,
            "messageUuid": f"{rng.getrandbits(64):016x}",
            "text": f"Message {i}: the weather in town is {rng.choice(['fine', 'grey'])}.",
        }
    if table == "memories":
        return {
            "playerId": player,
            "description": f"I remember conversation {i // 8} about the harvest festival.",
            "embeddingId": f"e:{i}",
            "importance": rng.randint(0, 9),
            "lastAccess": START_MS + i,
            "data": {"type": "conversation", "conversationId": f"c:{i // 8}"},
        }
    vector = np_rng.uniform(0.01, 1.0, dims).round(6)  # plain decimals, as embeddings are
    return {"playerId": player, "embedding": vector.tolist()}
