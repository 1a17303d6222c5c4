"""The store's clock: creation times and commit timestamps that never repeat or go back."""

from __future__ import annotations

import math
import time


class Clock:
    """Creation times (ms) and commit timestamps (ns) that never repeat or go back."""

    def __init__(self) -> None:
        self._last_ms = 0.0
        self._last_ts = 0

    def creation_time(self) -> float:
        now = time.time() * 1000.0
        if now <= self._last_ms:
            now = math.nextafter(self._last_ms, math.inf)
        self._last_ms = now
        return now

    def commit_ts(self) -> int:
        self._last_ts = max(time.time_ns(), self._last_ts + 1)
        return self._last_ts

    def observe(self, ts: int) -> None:
        """Another process committed at ``ts``: later commits here come after it (a hybrid
        logical clock), so waiting for one of them waits for that one too."""
        self._last_ts = max(self._last_ts, ts)

    @property
    def last_ts(self) -> int:
        return self._last_ts
