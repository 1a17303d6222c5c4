"""``smalltown export OUT.zip``: a snapshot laid out exactly as ``npx convex export`` writes
one, so ``npx convex import`` can take a smalltown town to Convex.

Entries: ``README.md``; ``_tables/documents.jsonl`` (one ``{"name", "id"}`` per table);
per table ``<table>/documents.jsonl`` (one document a line, in creation order) and
``<table>/generated_schema.jsonl`` (the single line ``"uniform"``). smalltown's own system
tables (names starting with ``_``) stay behind. Tables are read a page at a time, so
memory stays bounded whatever the database's size.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

from smalltown.migrate.export_json import dumps
from smalltown.store import Store

PAGE = 500
README = """# Convex snapshot export

Written by smalltown in Convex's snapshot format (uniform JSON). Import it into a Convex
deployment with `npx convex import --replace-all <this file>`, or into smalltown with
`smalltown import`.
"""


async def export_zip(
    store: Store, out: str | Path, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Write the snapshot; return the number of documents per table."""
    tables = sorted(
        (name, number) for name, number in store.table_numbers.items() if not name.startswith("_")
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
                    page = await store.read(
                        lambda tx, c=cursor, t=name: tx.paginate(t, cursor=c, page_size=PAGE)
                    )
                    for document in page.page:
                        entry.write((dumps(document) + "\n").encode())
                    count += len(page.page)
                    if progress:
                        progress(name, count)
                    if page.is_done:
                        break
                    cursor = page.continue_cursor
            archive.writestr(f"{name}/generated_schema.jsonl", '"uniform"\n')
            counts[name] = count
    partial.replace(path)  # a finished file or none: never half a snapshot
    return counts
