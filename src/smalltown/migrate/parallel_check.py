"""The check pass of a uniform ZIP entry, a chunk of lines at a time, on every core.

Checking and preparing a document (parse, id, values, index keys, stored text, vectors)
is the bulk of an import's work and needs nothing but the line and the table's schema, so
an entry's lines go, in chunks of one write batch at most, to a pool of checking
processes; each returns its chunk's prepared rows already packed for the spool, and this
process appends them in line order. What ties the chunks together is settled here, in
order: the table number the ids carry (when no ``_tables`` entry gives it, the first id
says) and each vector field's size. A chunk is sent with what is known when it leaves,
and whatever it finds first comes back to be compared.

Guarantees are the single-process pass's:

- all or nothing: results are taken in order, and on a failure (a bad line, a chunk at
  odds with earlier ones) the entry is checked again here, line after line, so the
  message names the first bad line in exactly the words the one-process pass uses;
- memory: at most one chunk a checking process, and one more, are in flight (each a few
  MB of lines, and as much of prepared rows when it comes back);
- a small entry (one chunk) starts no process; the pool starts with the first entry of
  two chunks or more, which it checks whole, and lives until the check pass ends. Its
  processes come from a fork server, not a fork of this process (which holds database
  connections and threads); if this process is killed, each notices at once and exits.
  Should one die, the entry is checked again in this process alone, as is the rest (so
  a script that imports without an ``if __name__ == "__main__":`` guard, which the
  processes cannot start from, still imports, on one core), even if it died halfway
  through sending a result (``Checker._result``).
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from smalltown.migrate.handoff import Stopped
from smalltown.migrate.source import (
    SnapshotError,
    Source,
    bad_line,
    parse_document,
    parse_uniform,
)
from smalltown.migrate.spool import BatchSink, carry_on, pack_batch
from smalltown.migrate.stored_text import body_text
from smalltown.store import InvalidIdError, InvalidValueError, decode_id
from smalltown.store.keys import field_value
from smalltown.store.prepared import PreparedRow, prepare_row
from smalltown.store.schema import Table

WATCH_SECONDS = 0.5  # how often a wait for a chunk looks whether a process died
ROWS_PER_BATCH = 2000  # the write pass's transaction: rows...
BYTES_PER_BATCH = 4 << 20  # ...and bytes of stored JSON (of input lines, for a chunk)
MAX_WORKERS = 4

Chunk = list[tuple[int, bytes]]  # (line number, line)


def workers() -> int:
    """Checking processes worth starting: one a core, none on a single core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(cores, MAX_WORKERS) if cores > 1 else 0


def check_document(
    where: str,
    doc: dict[str, Any],
    table: str,
    expected: int | None,
    sizes: dict[str, int | None],
    new_ids: bool = False,
) -> tuple[int | None, int | None]:
    """The checks every imported document gets before its values are: its ``_id`` is of
    the table's number (``expected``; None: this id sets it), its ``_creationTime`` a
    number, its vectors of the size earlier ones had (``sizes``, updated). Returns the id's
    table number (None: a new-ids document without one) and the expected number."""
    number = None
    if "_id" in doc or not new_ids:
        try:
            number, _ = decode_id(doc.get("_id"))
        except InvalidIdError as exc:
            raise SnapshotError(f"{where}: {exc}") from None
        if expected is None:
            expected = number  # no _tables entry: the first id says
        if number != expected:
            raise SnapshotError(
                f"{where}: id {doc['_id']} belongs to table number {number}, but "
                f"{table} is number {expected}"
            )
    ct = doc.get("_creationTime")
    if ("_creationTime" in doc or not new_ids) and (
        isinstance(ct, bool) or not isinstance(ct, (int, float))
    ):
        raise SnapshotError(f"{where}: _creationTime must be a number")
    for path in sizes:
        vector = field_value(doc, path)
        if isinstance(vector, list):
            if sizes[path] is None:
                sizes[path] = len(vector)
            elif len(vector) != sizes[path]:
                raise SnapshotError(
                    f"{where}: {path} has {len(vector)} dimensions, but earlier "
                    f"documents of {table} have {sizes[path]}"
                )
    return number, expected


class Batch:
    """Prepared rows gathered for one write transaction: a few MB at most."""

    def __init__(self) -> None:
        self.rows: list[PreparedRow] = []
        self.last = 0
        self.size = 0

    def add(self, line: int, row: PreparedRow) -> None:
        self.rows.append(row)
        self.last = line
        self.size += len(row.encoded)

    def full(self) -> bool:
        return len(self.rows) >= ROWS_PER_BATCH or self.size >= BYTES_PER_BATCH

    def take(self) -> tuple[int, list[PreparedRow]]:
        taken = self.last, self.rows
        self.rows, self.size = [], 0
        return taken


@dataclass
class Checked:
    """A chunk's outcome: the table number its ids carry (None: it has no line), the
    first size of each vector field that had none when it was sent, with its line, and
    its rows packed for the spool."""

    number: int | None
    first_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    packed: list[bytes] = field(default_factory=list)


def check_chunk(
    table: Table,
    label: str,
    expected: int | None,
    sizes: dict[str, int | None],
    skip: int,
    chunk: Chunk,
) -> Checked:
    """Check and prepare a chunk of a uniform entry's lines (run in a checking process, or
    here); lines up to ``skip`` (committed by an interrupted run) are checked only."""
    unknown = {path for path, size in sizes.items() if size is None}
    sizes = dict(sizes)
    first_sizes: dict[str, tuple[int, int]] = {}
    packed: list[bytes] = []
    batch = Batch()
    for n, line in chunk:
        where = f"{label} line {n}"
        doc = parse_document(line, where, parse_uniform)
        number, expected = check_document(where, doc, table.name, expected, sizes)
        for path in [p for p in unknown if sizes[p] is not None]:
            first_sizes[path] = (sizes[path], n)  # type: ignore[assignment]
            unknown.discard(path)
        try:
            row = prepare_row(table, doc, number, body_text(line))  # type: ignore[arg-type]
        except (InvalidValueError, InvalidIdError) as exc:
            raise bad_line(where, exc) from None
        if n > skip:
            batch.add(n, row)
            if batch.full():
                packed.append(pack_batch(*batch.take()))
    if batch.rows:
        packed.append(pack_batch(*batch.take()))
    return Checked(expected, first_sizes, packed)


def chunks(source: Source) -> Iterator[Chunk]:
    """A uniform entry's lines, a write batch's worth at a time."""
    chunk: Chunk = []
    size = 0
    for n, line in source.lines():  # type: ignore[misc]
        chunk.append((n, line))
        size += len(line)
        if len(chunk) >= ROWS_PER_BATCH or size >= BYTES_PER_BATCH:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _with_lookahead(items: Iterator[Chunk]) -> Iterator[tuple[Chunk, bool]]:
    """Each chunk, and whether it is its entry's only one: a small entry is checked here,
    whereas every chunk of a larger one, the first included, goes to the processes."""
    first = next(items, None)
    if first is None:
        return
    second = next(items, None)
    yield first, second is None
    if second is not None:
        yield second, False
        for chunk in items:
            yield chunk, False


def _end_with(pid: int) -> None:
    """In a checking process: exit as soon as the importing process ``pid`` has ended, even
    by SIGKILL (a pool's processes hold their own input pipe open, so they would wait on
    it for ever)."""

    def wait() -> None:
        try:
            handle = os.pidfd_open(pid)
        except (AttributeError, OSError):  # not Linux 5.3 or later: look every second
            while True:
                time.sleep(1)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
        else:
            select.select([handle], [], [])  # readable once the process has ended
        os._exit(1)

    threading.Thread(target=wait, name="end-with-importer", daemon=True).start()


class _AtOdds(Exception):
    """A chunk disagrees with earlier ones (table number or vector size)."""


class Checker:
    """Checks uniform entries with a pool of processes, started when first worth it."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = workers() if processes is None else processes
        self._pool: ProcessPoolExecutor | None = None
        self.counted = 0  # the lines (documents) of the entry last checked

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pool_now(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=_end_with,
                initargs=(os.getpid(),),
            )
        return self._pool

    def check(
        self,
        source: Source,
        table: Table,
        sizes: dict[str, int | None],
        skip: int,
        spool: BatchSink,
        interrupt: Callable[[], None] = carry_on,
    ) -> int | None:
        """Check and spool a uniform entry; returns its table number (None: empty).
        ``sizes`` (vector field -> size) is updated as the one-process pass would.
        ``interrupt``, called before each chunk, may raise to stop."""
        initial = dict(sizes)
        try:
            try:
                return self._check(source, table, sizes, skip, spool, interrupt)
            except BrokenProcessPool:
                # A checking process died (killed, out of memory): this entry again, in
                # this process alone, and so the rest of the import.
                self.close()
                self.processes = 0
                spool.forget(source.label)
                sizes.update(initial)
                return self._check(source, table, sizes, skip, spool, interrupt)
        except Stopped:
            raise  # the import ends: nothing to explain
        except Exception as exc:
            # Say what the one-process pass would: the first bad line, in its words.
            self._recheck(source, table, initial, skip)
            if isinstance(exc, _AtOdds):  # the recheck found nothing: cannot be
                raise SnapshotError(f"{source.label}: {exc}") from None
            raise

    def _check(
        self,
        source: Source,
        table: Table,
        sizes: dict[str, int | None],
        skip: int,
        spool: BatchSink,
        interrupt: Callable[[], None],
    ) -> int | None:
        expected = source.number
        pending: deque[Future[Checked]] = deque()

        def take(checked: Checked) -> None:
            nonlocal expected
            if checked.number is not None:
                if expected is None:
                    expected = checked.number
                elif checked.number != expected:
                    raise _AtOdds(f"ids of table number {checked.number} and {expected}")
            for path, (size, _) in checked.first_sizes.items():
                if sizes[path] is None:
                    sizes[path] = size
                elif sizes[path] != size:
                    raise _AtOdds(f"{path} of {size} and {sizes[path]} dimensions")
            for data in checked.packed:
                spool.add_packed(source.label, data)

        self.counted = 0
        try:
            for chunk, alone in _with_lookahead(chunks(source)):
                interrupt()
                self.counted += len(chunk)
                if not self.processes or (alone and self._pool is None):
                    take(check_chunk(table, source.label, expected, sizes, skip, chunk))
                    continue
                pool = self._pool_now()
                args = (table, source.label, expected, dict(sizes), skip, chunk)
                pending.append(pool.submit(check_chunk, *args))
                while len(pending) > self.processes:
                    take(self._result(pending.popleft()))
            while pending:
                take(self._result(pending.popleft()))
        finally:
            for future in pending:
                future.cancel()
        return expected

    def _result(self, future: Future[Checked]) -> Checked:
        """``future.result()``, also when a checking process dies as it sends a result.

        The pool's manager thread reads results whole; a process killed halfway through
        writing one (a big chunk's rows) leaves that read waiting for ever, so the pool
        is never found broken and the future never ends. Looking at the processes here
        breaks that wait: the others are killed and this process's copy of the pipe's
        writing end is closed, so the read ends and the pool reports itself broken
        (``BrokenProcessPool``), which the caller handles as any other death.
        """
        while True:
            try:
                return future.result(timeout=WATCH_SECONDS)
            except TimeoutError:
                processes = list(getattr(self._pool, "_processes", {}).values())
                if any(p.exitcode is not None for p in processes):
                    for process in processes:
                        process.kill()
                    results = getattr(self._pool, "_result_queue", None)
                    writer = getattr(results, "_writer", None)
                    if writer is not None and not writer.closed:
                        writer.close()

    def _recheck(
        self, source: Source, table: Table, sizes: dict[str, int | None], skip: int
    ) -> None:
        """The entry again, in this process, in line order: raises at its first bad line."""
        expected = source.number
        sizes = dict(sizes)
        for chunk in chunks(source):
            checked = check_chunk(table, source.label, expected, sizes, skip, chunk)
            expected = checked.number if expected is None else expected
            for path, (size, _) in checked.first_sizes.items():
                sizes[path] = size
