"""File storage: the ``_storage`` and ``_storage_chunks`` tables, and a stored file's bytes
written and read a chunk at a time.

A file is one ``_storage`` document (``_id``, ``_creationTime``, ``sha256`` (base64),
``size``, ``contentType``...) and its bytes are ``_storage_chunks`` documents of 256 KiB,
``{storageId, n, data}``, one chunk a transaction: a file of any size is copied, served and
exported in bounded memory, on every provider alike. The runtime declares ``TABLES`` with
its system tables; snapshot import and export (``smalltown.migrate``) and
``GET /api/storage/<id>`` (``smalltown.server``) reach the files through this module.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import IO, Any

from smalltown.store.schema import Index, Table
from smalltown.store.store import Store
from smalltown.store.transaction import Transaction

TABLE = "_storage"
CHUNKS = "_storage_chunks"
CHUNK = 256 * 1024
TABLES = (Table(TABLE), Table(CHUNKS, indexes=[Index("byFile", ["storageId", "n"])]))


def chunks_of(f: IO[bytes]) -> Iterator[bytes]:
    """A binary file's bytes in chunks of the size they are stored in."""
    while chunk := f.read(CHUNK):
        yield chunk


async def metadata(store: Store, storage_id: str) -> dict[str, Any] | None:
    """The file's ``_storage`` document, or None if there is none. A malformed id, or an
    id of another table, raises the store's error for it."""
    return await store.read(lambda tx: tx.get(storage_id, table=TABLE))


async def write_chunks(
    store: Store,
    storage_id: str,
    chunks: Iterator[bytes],
    done: Callable[[Transaction], Awaitable[Any]],
) -> None:
    """Store a file's bytes, one chunk a transaction; ``done(tx)`` runs in the transaction
    of the last chunk (in one of its own for an empty file), so what it records is
    committed exactly when the whole file is."""
    empty = True
    for i, (data, last) in enumerate(_peek_last(chunks)):
        empty = False

        async def put(tx: Transaction, i: int = i, data: bytes = data, last: bool = last) -> None:
            await tx.insert(CHUNKS, {"storageId": storage_id, "n": i, "data": data})
            if last:
                await done(tx)

        await store.run(put)
    if empty:
        await store.run(done)


def _peek_last(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    previous = next(chunks, None)
    while previous is not None:
        following = next(chunks, None)
        yield previous, following is None
        previous = following


def sha256_of(data: bytes) -> str:
    """A file's ``sha256`` as ``_storage`` documents keep it (base64)."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


async def store_bytes(store: Store, data: bytes, content_type: str) -> str:
    """A new stored file holding ``data``: its ``_storage`` document, then its chunks, and
    its id. For files made here (``smalltown aitown import``), not copied from a snapshot."""
    meta = {"sha256": sha256_of(data), "size": len(data), "contentType": content_type}
    storage_id: str = await store.run(lambda tx: tx.insert(TABLE, meta))
    pieces = (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))

    async def nothing(tx: Transaction) -> None:
        return None

    await write_chunks(store, storage_id, pieces, nothing)
    return storage_id


async def delete_chunks(store: Store, storage_id: str) -> None:
    """Remove a file's bytes (what an interrupted ``write_chunks`` left), a few chunks a
    transaction."""

    async def clear(tx: Transaction) -> int:
        rows = await tx.query(CHUNKS, "byFile", eq={"storageId": storage_id}, limit=4)
        for row in rows:
            await tx.delete(row["_id"])
        return len(rows)

    while await store.run(clear):
        pass


async def read_chunks(store: Store, storage_id: str) -> AsyncIterator[bytes]:
    """A stored file's bytes, a chunk at a time, each chunk read in its own transaction."""
    n = 0
    while True:

        def read_chunk(tx: Transaction, n: int = n) -> Awaitable[dict[str, Any] | None]:
            return tx.first(CHUNKS, "byFile", eq={"storageId": storage_id, "n": n})

        chunk = await store.read(read_chunk)
        if chunk is None:
            return
        yield chunk["data"]
        n += 1
