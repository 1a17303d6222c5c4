"""Exact cosine search over vectors held in memory, for providers without a vector index.

At town scale an exact scan with numpy beats every approximate index on this hardware
(10k × 384-d top-10 in about 0.24 ms) and never misses a neighbour. Vectors are kept
normalised in one contiguous float32 matrix; rows are looked up per filter value, so a
selective filter only touches its own rows.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping

import numpy as np

from smalltown.store.base import VectorEntry, VectorFilter


def normalise(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class ExactVectorIndex:
    def __init__(self, dimensions: int, filter_count: int) -> None:
        self._dims = dimensions
        self._matrix = np.zeros((64, dimensions), dtype=np.float32)
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._filters: list[tuple[bytes, ...]] = []
        self._by_filter: list[dict[bytes, set[int]]] = [
            defaultdict(set) for _ in range(filter_count)
        ]

    def __len__(self) -> int:
        return len(self._ids)

    def load(self, rows: Iterable[tuple[str, np.ndarray, tuple[bytes, ...]]]) -> None:
        for id, vector, filters in rows:
            self.upsert(id, VectorEntry(vector, filters))

    def upsert(self, id: str, entry: VectorEntry) -> None:
        self.remove(id)
        row = len(self._ids)
        if row == len(self._matrix):
            grown = np.zeros((row * 2, self._dims), dtype=np.float32)
            grown[:row] = self._matrix
            self._matrix = grown
        self._matrix[row] = normalise(entry.vector)
        self._ids.append(id)
        self._row_of[id] = row
        self._filters.append(entry.filters)
        for field, key in enumerate(entry.filters):
            self._by_filter[field][key].add(row)

    def remove(self, id: str) -> None:
        row = self._row_of.pop(id, None)
        if row is None:
            return
        for field, key in enumerate(self._filters[row]):
            self._discard(field, key, row)
        last = len(self._ids) - 1
        if row != last:  # move the last row into the hole
            moved = self._ids[last]
            self._matrix[row] = self._matrix[last]
            self._ids[row] = moved
            self._filters[row] = self._filters[last]
            self._row_of[moved] = row
            for field, key in enumerate(self._filters[row]):
                rows = self._by_filter[field][key]
                rows.discard(last)
                rows.add(row)
        self._ids.pop()
        self._filters.pop()

    def _discard(self, field: int, key: bytes, row: int) -> None:
        rows = self._by_filter[field].get(key)
        if rows is not None:
            rows.discard(row)
            if not rows:
                del self._by_filter[field][key]

    def _candidates(self, filters: VectorFilter) -> np.ndarray | None:
        """Rows passing the filter, or None for every row."""
        chosen: set[int] | None = None
        for field, options in filters:
            rows: set[int] = set()
            for key in options:
                rows |= self._by_filter[field].get(key, set())
            chosen = rows if chosen is None else chosen & rows
        if chosen is None:
            return None
        return np.fromiter(chosen, dtype=np.int64, count=len(chosen))

    def search(
        self,
        query: np.ndarray,
        limit: int,
        filters: VectorFilter,
        overlay: Mapping[str, VectorEntry | None] | None = None,
    ) -> list[tuple[str, float]]:
        """Best ``limit`` matches; ``overlay`` holds a transaction's uncommitted changes."""
        q = normalise(query.astype(np.float32, copy=False))
        overlay = overlay or {}
        rows = self._candidates(filters)
        if rows is None:
            scores = self._matrix[: len(self._ids)] @ q
            rows_index = None
        else:
            scores = self._matrix[rows] @ q if len(rows) else np.zeros(0, dtype=np.float32)
            rows_index = rows
        want = min(limit + len(overlay), len(scores))
        if want < len(scores):
            top = np.argpartition(-scores, want - 1)[:want]
        else:
            top = np.arange(len(scores))
        found: dict[str, float] = {}
        for i in top:
            row = int(rows_index[i]) if rows_index is not None else int(i)
            id = self._ids[row]
            if id not in overlay:
                found[id] = _clamp(float(scores[i]))
        for id, entry in overlay.items():
            if entry is not None and _matches(entry.filters, filters):
                found[id] = _clamp(float(normalise(entry.vector.astype(np.float32)) @ q))
        best = sorted(found.items(), key=lambda item: (-item[1], item[0]))
        return best[:limit]


def _matches(row_filters: tuple[bytes, ...], filters: VectorFilter) -> bool:
    return all(row_filters[field] in options for field, options in filters)


def _clamp(score: float) -> float:
    return max(-1.0, min(1.0, score))


VectorChanges = dict[tuple[str, str], dict[str, VectorEntry | None]]
"""(table, vector index) -> document id -> its new entry, or None when it left the index."""


def apply_changes(indexes: dict[tuple[str, str], ExactVectorIndex], changes: VectorChanges) -> None:
    """Bring in-memory indexes in step with a committed transaction's vector changes."""
    for key, by_id in changes.items():
        exact = indexes.get(key)
        if exact is None:
            continue
        for id, entry in by_id.items():
            if entry is None:
                exact.remove(id)
            else:
                exact.upsert(id, entry)


class VectorMemory:
    """The in-memory vector indexes of one database, kept in step with its commit clock.

    Every write transaction, from any process, bumps a clock stored in the database. This
    process applies its own commits as they happen. A search that sees a clock the memory
    has not reached knows another process wrote, and reloads from a fresh snapshot first;
    so several processes can share one database and still find each other's vectors.
    """

    Loader = Callable[[], Awaitable[tuple[int, dict[tuple[str, str], ExactVectorIndex]]]]

    def __init__(self, load: Loader) -> None:
        self._load = load
        self._lock = asyncio.Lock()
        self.indexes: dict[tuple[str, str], ExactVectorIndex] = {}
        self.seq = -1
        self.reloads = 0

    async def reload(self) -> None:
        async with self._lock:
            await self._reload()

    async def _reload(self) -> None:
        self.seq, self.indexes = await self._load()
        self.reloads += 1

    def forget(self) -> None:
        """Drop every vector from memory: the next search loads them afresh. For after a
        bulk load, and at open, so a process that never searches never holds them."""
        self.indexes = {}
        self.seq = -1

    async def at_least(self, seen_seq: int) -> dict[tuple[str, str], ExactVectorIndex]:
        """The indexes, reloaded first if the database has commits they do not have."""
        if seen_seq > self.seq:
            async with self._lock:
                if seen_seq > self.seq:
                    await self._reload()
        return self.indexes

    def committed(self, seq: int, changes: VectorChanges) -> None:
        """This process committed ``changes`` as clock value ``seq``."""
        if seq == self.seq + 1:
            apply_changes(self.indexes, changes)
            self.seq = seq
        # Otherwise another process committed in between: the next search reloads.
