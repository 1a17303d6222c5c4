"""Flow control for one sync connection: a bounded queue of frames going out, and a
bounded count of calls (mutations, actions) waiting or running.

A client that sends faster than its calls run is read no faster than they run: its
frames wait in its own socket, not in the server's memory. A client that does not read
what it is sent cannot make the server hold more than a bounded amount for it: past
that the connection is cut off (see ``SyncConnection``).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Generic, TypeVar

T = TypeVar("T")

#: Bookkeeping counted with each queued frame besides its text (the Python objects that
#: hold it), so that many tiny frames are bounded as surely as a few large ones.
FRAME_OVERHEAD_BYTES = 256


class Outbox(Generic[T]):
    """Frames waiting to be sent, in order, with the bytes they hold. ``put`` refuses a
    frame that would take the queue past ``max_bytes``; an empty queue takes any one
    frame, so a single large message (a big query result) always fits."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.peak_bytes = 0
        self._items: collections.deque[tuple[T, int]] = collections.deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T, size: int, *, force: bool = False) -> bool:
        """Queue ``item`` (``size`` bytes); False, and nothing queued, when it does not fit
        (``force`` queues it anyway: the last words of a closing connection)."""
        size += FRAME_OVERHEAD_BYTES
        if not force and self._items and self.bytes + size > self.max_bytes:
            return False
        self._items.append((item, size))
        self.bytes += size
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        self._ready.set()
        return True

    def last(self) -> T | None:
        """The frame queued last (still waiting), or None."""
        return self._items[-1][0] if self._items else None

    def replace_last(self, item: T, size: int) -> bool:
        """Put ``item`` in place of the last frame, if the queue then fits its bound (or
        holds nothing else); False, and nothing changed, if not."""
        size += FRAME_OVERHEAD_BYTES
        _, old = self._items[-1]
        if len(self._items) > 1 and self.bytes - old + size > self.max_bytes:
            return False
        self._items[-1] = (item, size)
        self.bytes += size - old
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        return True

    async def get(self) -> T:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item, size = self._items.popleft()
        self.bytes -= size
        return item

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


class CallBudget:
    """Calls one connection has waiting or running, and the bytes of their frames.
    ``acquire`` waits while either bound is reached; with none in hand any one call is let
    in, however large."""

    def __init__(self, max_calls: int, max_bytes: int) -> None:
        self.max_calls = max_calls
        self.max_bytes = max_bytes
        self.calls = 0
        self.bytes = 0
        self.peak_calls = 0
        self._freed = asyncio.Event()

    async def acquire(self, size: int) -> None:
        while self.calls and (self.calls >= self.max_calls or self.bytes + size > self.max_bytes):
            self._freed.clear()
            await self._freed.wait()
        self.calls += 1
        self.bytes += size
        self.peak_calls = max(self.peak_calls, self.calls)

    def release(self, size: int) -> None:
        self.calls -= 1
        self.bytes -= size
        self._freed.set()
