"""File storage in a snapshot: ``_storage/documents.jsonl`` and the files beside it.

Metadata (``_id``, ``_creationTime``, ``sha256`` (base64), ``size``, ``contentType``...)
becomes documents of the system table ``_storage``, ids kept, so references from app
documents still resolve; a file's bytes are stored a chunk at a time (see
``smalltown.store.files``, which holds the tables and the chunks). Files are checked
(present, size, SHA-256) in the import's first pass, and copied after the documents; an
interrupted copy resumes at the file it was copying.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from smalltown.migrate.snapshot import Entry, Snapshot
from smalltown.migrate.source import SnapshotError, Source
from smalltown.store import Store
from smalltown.store import files as stored_files

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
    found = snapshot.source(entry, stored_files.TABLE)
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
        for chunk in stored_files.chunks_of(f):
            digest.update(chunk)
            size += len(chunk)
    if doc.get("size") is not None and size != doc["size"]:
        raise SnapshotError(f"{where}: file {name} has {size} bytes, not {doc['size']}")
    wanted = doc.get("sha256")
    if isinstance(wanted, str) and base64.b64decode(wanted) != digest.digest():
        raise SnapshotError(f"{where}: file {name} does not match its sha256")


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
            await stored_files.delete_chunks(store, storage_id)  # what an interrupted run began
        with snapshot.open(files[storage_id]) as f:

            def finish(tx: Any, n: int = n) -> Awaitable[None]:
                return mark(tx, n)

            await stored_files.write_chunks(store, storage_id, stored_files.chunks_of(f), finish)
        copied += 1
    return copied


def files_of(sources: Sequence[Source]) -> Source | None:
    return next((s for s in sources if s.label == METADATA), None)
