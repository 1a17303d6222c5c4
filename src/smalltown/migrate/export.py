"""``smalltown export OUT.zip``: a snapshot laid out exactly as ``npx convex export`` writes
one, so ``npx convex import`` can take a smalltown town to Convex.

Entries: ``README.md``; ``_tables/documents.jsonl`` (one ``{"name", "id"}`` per table);
per table ``<table>/documents.jsonl`` (one document a line, in creation order) and
``<table>/generated_schema.jsonl`` (the single line ``"uniform"``); components' tables
under ``_components/<name>/`` as an import brought them in; with ``include_storage``,
file storage as ``_storage/documents.jsonl`` and one ``_storage/<id>`` entry per file.
smalltown's own system tables (names starting with ``_``) stay behind. Tables are read
a page at a time, so memory stays bounded whatever the database's size. An app that stores
some documents otherwise than a snapshot holds them gives a :class:`Shape`: each page of
a table passes through it, in the transaction that read it, and the tables it names stay
behind (the town's worlds, ``worlds/parts.py``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from smalltown.migrate import components, storage
from smalltown.migrate.export_json import dumps
from smalltown.store import Page, Store, Transaction
from smalltown.store import files as stored_files

PAGE = 500
README = """# Convex snapshot export

Written by smalltown in Convex's snapshot format (uniform JSON). Import it into a Convex
deployment with `npx convex import --replace-all <this file>`, or into smalltown with
`smalltown import`.
"""


class Shape(Protocol):
    """How an app's documents are written to a snapshot, where it stores them otherwise."""

    #: tables left out of the snapshot (what they hold leaves in the others' documents)
    omitted: frozenset[str]

    async def documents(
        self, tx: Transaction, table: str, docs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """A page of ``table`` as the snapshot holds it, read with ``tx``."""
        ...


def _page(
    table: str,
    cursor: str | None,
    index: str = "by_creation_time",
    eq: dict[str, Any] | None = None,
) -> Callable[[Transaction], Awaitable[Page]]:
    """The read of the page of ``table`` after ``cursor``."""
    return lambda tx: tx.paginate(table, index, eq=eq, cursor=cursor, page_size=PAGE)


def _shaped_page(
    table: str, cursor: str | None, shape: Shape | None
) -> Callable[[Transaction], Awaitable[tuple[list[dict[str, Any]], Page]]]:
    """The read of the page of ``table`` after ``cursor``, its documents as ``shape``
    writes them."""

    async def read(tx: Transaction) -> tuple[list[dict[str, Any]], Page]:
        page = await _page(table, cursor)(tx)
        if shape is None:
            return page.page, page
        return await shape.documents(tx, table, page.page), page

    return read


async def _pages(
    store: Store, table: str, index: str = "by_creation_time", eq: dict[str, Any] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every document of ``table`` (optionally with index equality), a page at a time."""
    cursor = None
    while True:
        page = await store.read(_page(table, cursor, index, eq or None))
        for document in page.page:
            yield document
        if page.is_done:
            return
        cursor = page.continue_cursor


async def _export_components(store: Store, archive: zipfile.ZipFile, counts: dict) -> None:
    """Components' tables back to ``_components/<name>/...``, as the import found them."""
    levels: dict[str, list[tuple[str, int]]] = {}
    async for row in _pages(store, components.TABLE_NUMBERS, "byTable"):
        levels.setdefault(row["prefix"], []).append((row["table"], row["number"]))
    for prefix, tables in sorted(levels.items()):
        archive.writestr(
            f"{prefix}_tables/documents.jsonl",
            "".join(json.dumps({"name": n, "id": i}) + "\n" for n, i in tables),
        )
        for table, _ in tables:
            count = 0
            with archive.open(f"{prefix}{table}/documents.jsonl", "w") as entry:
                async for row in _pages(
                    store, components.DOCUMENTS, "byTable", {"prefix": prefix, "table": table}
                ):
                    entry.write((dumps(row["doc"]) + "\n").encode())
                    count += 1
            archive.writestr(f"{prefix}{table}/generated_schema.jsonl", '"uniform"\n')
            counts[f"{prefix}{table}"] = count


async def _export_storage(store: Store, archive: zipfile.ZipFile, counts: dict) -> None:
    """File storage: ``_storage/documents.jsonl``, then each file as ``_storage/<id>``."""
    count = 0
    with archive.open(storage.METADATA, "w") as entry:
        async for meta in _pages(store, stored_files.TABLE):
            entry.write((dumps(meta) + "\n").encode())
            count += 1
    async for meta in _pages(store, stored_files.TABLE):
        with archive.open(f"_storage/{meta['_id']}", "w") as entry:
            async for chunk in stored_files.read_chunks(store, meta["_id"]):
                entry.write(chunk)
    counts["_storage"] = count


async def export_zip(
    store: Store,
    out: str | Path,
    progress: Callable[[str, int], None] | None = None,
    include_storage: bool = False,
    shape: Shape | None = None,
) -> dict[str, int]:
    """Write the snapshot; return the number of documents per table."""
    omitted = shape.omitted if shape is not None else frozenset()
    tables = sorted(
        (name, number)
        for name, number in store.table_numbers.items()
        if not name.startswith("_") and name not in omitted
    )
    counts: dict[str, int] = {}
    path = Path(out)
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", README)
        archive.writestr(
            "_tables/documents.jsonl",
            "".join(json.dumps({"name": n, "id": i}) + "\n" for n, i in tables),
        )
        for name, _ in tables:
            count = 0
            with archive.open(f"{name}/documents.jsonl", "w") as entry:
                cursor = None
                while True:
                    documents, page = await store.read(_shaped_page(name, cursor, shape))
                    for document in documents:
                        entry.write((dumps(document) + "\n").encode())
                    count += len(documents)
                    if progress:
                        progress(name, count)
                    if page.is_done:
                        break
                    cursor = page.continue_cursor
            archive.writestr(f"{name}/generated_schema.jsonl", '"uniform"\n')
            counts[name] = count
        await _export_components(store, archive, counts)
        if include_storage:
            await _export_storage(store, archive, counts)
    partial.replace(path)  # a finished file or none: never half a snapshot
    return counts
