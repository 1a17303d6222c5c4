"""``smalltown bench import``: documents a second and peak memory of ``smalltown import``.

Builds a synthetic town snapshot (``synthetic_snapshot.py``: by default 100,000 documents,
10,000 of them memory embeddings of 1024 dimensions), then imports it into each database
in a child process of its own, so the peak resident memory (the child's RSS high-water
mark, from ``wait4``) is the import's alone. The time covers the whole import: the check
pass, table numbering, the batched writes and building any index the load suspended
(reported apart too). Point ``--database`` at a scratch database:
its town tables are replaced.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

from smalltown.bench.synthetic_snapshot import build_snapshot


class _ChildResult(TypedDict):
    provider: str
    documents: int
    seconds: float
    rate: float  # documents a second
    index_seconds: float  # of the seconds, spent building vector indexes


class ImportResult(_ChildResult):
    peak_mb: float  # the importing process's peak resident memory


def run(
    urls: list[str],
    docs: int = 100_000,
    vectors: int | None = None,
    dims: int = 1024,
    out: Callable[[str], None] = print,
) -> list[ImportResult]:
    vectors = docs // 10 if vectors is None else vectors
    results = []
    with tempfile.TemporaryDirectory(prefix="smalltown-bench-import-") as scratch:
        snapshot = Path(scratch) / "snapshot.zip"
        started = time.monotonic()
        counts = build_snapshot(snapshot, docs, vectors, dims)
        out(
            f"smalltown bench import: {sum(counts.values()):,} documents ({vectors:,} with "
            f"{dims}-d embeddings); snapshot {snapshot.stat().st_size / 1e6:,.0f} MB zipped, "
            f"built in {time.monotonic() - started:.1f} s"
        )
        machine = platform.machine()
        out(f"machine: {machine}, python {platform.python_version()}, {os.cpu_count()} cpus")
        for url in urls or [f"sqlite:///{scratch}/bench.db"]:
            result = _import_in_child(url, snapshot)
            results.append(result)
            out(
                f"{result['provider']:<9} {result['documents']:>9,.0f} documents in "
                f"{result['seconds']:6.1f} s: {result['rate']:>8,.0f} documents/s, "
                f"peak RSS {result['peak_mb']:,.0f} MB"
                + (
                    f" (vector index builds ran {result['index_seconds']:.1f} s of it, "
                    "partly beside the load)"
                    if result["index_seconds"] >= 0.05
                    else ""
                )
            )
    return results


def _import_in_child(url: str, snapshot: Path) -> ImportResult:
    child = subprocess.Popen(
        [sys.executable, "-m", "smalltown.bench.import_bench", url, str(snapshot)],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"the import into {url} failed (exit {child.returncode})")
    result: ImportResult = json.loads(output)
    result["peak_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result


async def _child(url: str, snapshot: str) -> _ChildResult:
    from smalltown.migrate.import_zip import fit_schema, import_zip
    from smalltown.runtime.runtime import with_system_tables
    from smalltown.store import open_store
    from smalltown.town.schema import schema

    store = await open_store(url, fit_schema(with_system_tables(schema), snapshot))
    try:
        started = time.monotonic()
        report = await import_zip(store, snapshot, mode="replace")
        seconds = time.monotonic() - started
        documents = sum(report.tables.values())
        return {
            "provider": store.provider_name,
            "documents": documents,
            "seconds": seconds,
            "rate": documents / seconds,
            "index_seconds": report.index_seconds,
        }
    finally:
        await store.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_child(sys.argv[1], sys.argv[2]))))
