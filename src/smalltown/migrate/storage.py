"""File storage: ``_storage/documents.jsonl`` and the files beside it in a snapshot.

Metadata (``_id``, ``_creationTime``, ``sha256`` (base64), ``size``, ``contentType``...)
becomes documents of the system table ``_storage``, ids kept, so references from app
documents still resolve. A file's bytes go to ``_storage_chunks`` in chunks of 256 KiB
(``{storageId, n, data}``), one chunk a transaction: a file of any size is copied, served
and exported in bounded memory, on every provider alike. Files are checked (present,
size, SHA-256) in the import's first pass, and copied after the documents; an interrupted
copy resumes at the file it was copying.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import IO, Any

from smalltown.migrate.snapshot import Entry, Snapshot
from smalltown.migrate.source import SnapshotError, Source
from smalltown.store import Store

TABLE = "_storage"  # declared with the runtime's system tables
CHUNKS = "_storage_chunks"
CHUNK = 256 * 1024
METADATA = "_storage/documents.jsonl"
FILES_LABEL = "_storage/files"  # the import's progress through the files


def source(snapshot: Snapshot) -> Source | None:
    if METADATA not in snapshot.names:
        return None
    files = _file_entries(snapshot)

    def check(where: str, doc: dict[str, Any]) -> None:
        name = files.get(doc.get("_id"))  # type: ignore[arg-type]
        if name is None:
            raise SnapshotError(f"{where}: no file _storage/{doc.get('_id')} in the ZIP")
        _check_file(snapshot, name, doc, where)

    entry = Entry("", "_storage", uniform=snapshot.is_uniform("", "_storage"))
    found = snapshot.source(entry, TABLE)
    found.verify = check
    return found


def _file_entries(snapshot: Snapshot) -> dict[str, str]:
    """Storage id → ZIP entry (``_storage/<id>`` with or without an extension)."""
    out = {}
    for name in snapshot.names:
        if name.startswith("_storage/") and name != METADATA and not name.endswith(".jsonl"):
            out[name[len("_storage/") :].split(".", 1)[0]] = name
    return out


def _check_file(snapshot: Snapshot, name: str, doc: dict[str, Any], where: str) -> None:
    """The file is of the size and SHA-256 its metadata gives."""
    digest = hashlib.sha256()
    size = 0
    with snapshot.open(name) as f:
        for chunk in _chunks(f):
            digest.update(chunk)
            size += len(chunk)
    if doc.get("size") is not None and size != doc["size"]:
        raise SnapshotError(f"{where}: file {name} has {size} bytes, not {doc['size']}")
    wanted = doc.get("sha256")
    if isinstance(wanted, str) and base64.b64decode(wanted) != digest.digest():
        raise SnapshotError(f"{where}: file {name} does not match its sha256")


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


async def copy_files(
    store: Store,
    snapshot: Snapshot,
    source: Source,
    done_through: int,
    mark: Callable[[Any, int], Awaitable[None]],
) -> int:
    """Copy each file's bytes after line ``done_through``; ``mark(tx, line)`` records a
    finished file in the same transaction as its last chunk. Returns files copied."""
    files = _file_entries(snapshot)
    copied = 0
    for n, doc in source.read():
        if n <= done_through:
            continue
        storage_id = doc["_id"]
        if copied == 0:
            await _delete_chunks(store, storage_id)  # the file an interrupted run began
        empty = True
        with snapshot.open(files[storage_id]) as f:
            for i, (data, last) in enumerate(_peek_last(_chunks(f))):
                empty = False

                async def put(tx, i=i, data=data, last=last, n=n, sid=storage_id) -> None:
                    await tx.insert(CHUNKS, {"storageId": sid, "n": i, "data": data})
                    if last:
                        await mark(tx, n)

                await store.run(put)
        if empty:
            await store.run(lambda tx, n=n: mark(tx, n))
        copied += 1
    return copied


def _peek_last(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    previous = next(chunks, None)
    while previous is not None:
        following = next(chunks, None)
        yield previous, following is None
        previous = following


async def _delete_chunks(store: Store, storage_id: str) -> None:
    async def clear(tx) -> int:
        rows = await tx.query(CHUNKS, "byFile", eq={"storageId": storage_id}, limit=4)
        for row in rows:
            await tx.delete(row["_id"])
        return len(rows)

    while await store.run(clear):
        pass


async def file_bytes(store: Store, storage_id: str) -> AsyncIterator[bytes]:
    """A stored file's bytes, a chunk at a time, each chunk read in its own transaction."""
    n = 0
    while True:
        chunk = await store.read(
            lambda tx, n=n: tx.first(CHUNKS, "byFile", eq={"storageId": storage_id, "n": n})
        )
        if chunk is None:
            return
        yield chunk["data"]
        n += 1


def files_of(sources: Sequence[Source]) -> Source | None:
    return next((s for s in sources if s.label == METADATA), None)
