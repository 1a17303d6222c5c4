"""Token-bucket rate limits per caller identity and per client address.

Each call takes a token from its identity's bucket (signed-in users, and sync clients'
sessions) and from its
address's bucket; buckets refill at ``rate`` tokens a second up to ``burst``. Admin calls
are not limited. Over the limit, HTTP answers 429 with Retry-After and the socket answers
the call with a function error, leaving the connection open.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from smalltown.runtime import Identity

MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class RateLimits:
    rate: float = 50.0  # calls a second, sustained
    burst: float = 200.0  # calls at once
    enabled: bool = True


class RateLimitExceeded(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit exceeded; retry in {retry_after:.1f} s")
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter:
    def __init__(self, limits: RateLimits, clock=time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, identity: Identity, address: str | None) -> None:
        """Take one token for this call, or raise RateLimitExceeded."""
        if not self._limits.enabled or identity.kind == "admin":
            return
        keys = [f"addr:{address or 'unknown'}"]
        if identity.kind in ("user", "session"):
            keys.append(f"{identity.kind}:{identity.subject}")
        now = self._clock()
        levels = [self._level(key, now) for key in keys]
        short = [1 - level for level in levels if level < 1]
        if short:
            raise RateLimitExceeded(max(short) / self._limits.rate)
        for key, level in zip(keys, levels, strict=True):
            self._buckets[key] = (level - 1, now)
            self._buckets.move_to_end(key)
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)

    def _level(self, key: str, now: float) -> float:
        level, at = self._buckets.get(key, (self._limits.burst, now))
        return min(self._limits.burst, level + (now - at) * self._limits.rate)
