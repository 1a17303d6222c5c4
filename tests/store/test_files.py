"""Stored files: bytes written a chunk a transaction read back whole, on every provider."""

import io

import pytest

from smalltown.store import Schema, open_store
from smalltown.store import files as stored_files

SIZE = 2 * stored_files.CHUNK + 5  # three chunks, the last a short one


@pytest.fixture
async def store(store_url):
    s = await open_store(store_url, Schema(list(stored_files.TABLES)))
    yield s
    await s.close()


async def stored(store, data: bytes) -> tuple[str, list[int]]:
    """Store ``data`` as a file; returns its id and the chunk counts ``done`` saw."""
    storage_id = await store.run(lambda tx: tx.insert(stored_files.TABLE, {"size": len(data)}))
    seen = []

    async def done(tx):
        seen.append(await tx.count(stored_files.CHUNKS))

    chunks = stored_files.chunks_of(io.BytesIO(data))
    await stored_files.write_chunks(store, storage_id, chunks, done)
    return storage_id, seen


async def read_back(store, storage_id: str) -> bytes:
    return b"".join([chunk async for chunk in stored_files.read_chunks(store, storage_id)])


async def test_a_file_reads_back_whole_and_is_done_with_its_last_chunk(store):
    data = bytes(range(256)) * (SIZE // 256) + bytes(SIZE % 256)
    storage_id, seen = await stored(store, data)
    assert seen == [3]  # called once, in the transaction that wrote the last chunk
    assert await read_back(store, storage_id) == data
    assert (await stored_files.metadata(store, storage_id))["size"] == SIZE


async def test_an_empty_file_is_done_in_a_transaction_of_its_own(store):
    storage_id, seen = await stored(store, b"")
    assert seen == [0]
    assert await read_back(store, storage_id) == b""


async def test_deleting_a_files_chunks_leaves_the_others(store):
    first, _ = await stored(store, b"a" * SIZE)
    second, _ = await stored(store, b"b" * 10)
    await stored_files.delete_chunks(store, first)
    assert await read_back(store, first) == b""
    assert await read_back(store, second) == b"b" * 10
    assert await stored_files.metadata(store, first) is not None  # the document stays


async def test_bytes_made_here_are_stored_with_their_size_digest_and_type(store):
    import base64
    import hashlib

    data = bytes(range(251)) * (SIZE // 251)
    storage_id = await stored_files.store_bytes(store, data, "image/png")
    assert await read_back(store, storage_id) == data
    meta = await stored_files.metadata(store, storage_id)
    assert (meta["size"], meta["contentType"]) == (len(data), "image/png")
    assert base64.b64decode(meta["sha256"]) == hashlib.sha256(data).digest()
