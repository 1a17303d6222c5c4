"""Prepared batches handed from the check pass, in a thread, to the write pass, on the
event loop, while both run: writing then overlaps checking instead of waiting for it.

It stands in for the spool (``spool.py``) where the import may write before every line
has passed (see ``import_zip.py``): the same ``add``/``add_packed``/``forget`` calls, but
a batch goes straight to the writer. Memory stays bounded: at most ``depth`` batches
wait; the checking thread blocks until the writer takes one.

``forget`` (a checking process died and the entry is checked again from its start, in
the importing process) cannot take back what the writer already has; the entry's
batches come again in the same order and cut at the same lines, so those already handed
over are dropped, and the rest go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import marshal
import queue
import threading
from collections.abc import AsyncIterator

from smalltown.migrate.spool import Batch, pack_batch, unpack_rows
from smalltown.store.base import PreparedRow

_END = object()
_POLL = 0.1  # seconds a blocked checking thread waits before looking for a stop again


class Stopped(Exception):
    """The write pass has stopped (it failed, or the import was interrupted)."""


class Handoff:
    def __init__(self, depth: int = 3) -> None:
        self._queue: queue.Queue = queue.Queue(depth)
        self._stopped = threading.Event()
        self._sent: dict[str, int] = {}  # label -> batches handed over
        self._seen: dict[str, int] = {}  # label -> batches added since the last forget

    # The checking thread's side (the spool's interface).

    def add(self, label: str, last_line: int, rows: list[PreparedRow]) -> None:
        self.add_packed(label, pack_batch(last_line, rows))

    def add_packed(self, label: str, data: bytes) -> None:
        seen = self._seen.get(label, 0)
        self._seen[label] = seen + 1
        if seen < self._sent.get(label, 0):
            return  # handed over before a forget: the writer has it already
        self._put((label, data))
        self._sent[label] = self._sent.get(label, 0) + 1

    def forget(self, label: str) -> None:
        self._seen[label] = 0

    def interrupt(self) -> None:
        """Raise ``Stopped`` once the writer has stopped (the check pass calls it often)."""
        if self._stopped.is_set():
            raise Stopped

    def end(self, error: BaseException | None = None) -> None:
        """No more batches; with ``error``, the check pass failed and the writer raises it."""
        with contextlib.suppress(Stopped):
            self._put(_END if error is None else error)

    def _put(self, item: object) -> None:
        while True:
            if self._stopped.is_set():
                raise Stopped
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    # The writer's side.

    def stop(self) -> None:
        """The writer takes no more: a checking thread blocked on a full queue, or about
        to add, raises ``Stopped`` and so ends. A thread still waiting to take a batch for
        a writer that was cancelled meanwhile is released too (else the interpreter
        would wait for it on exit)."""
        self._stopped.set()
        with contextlib.suppress(queue.Full):  # full: nobody is waiting to take
            self._queue.put_nowait(_END)

    async def batches(self) -> AsyncIterator[tuple[str, Batch]]:
        """Each batch as the check pass hands it over, until it ends (raising its error)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = await asyncio.to_thread(self._queue.get)
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            label, data = item
            last_line, packed = marshal.loads(data)
            yield label, (last_line, unpack_rows(packed))
