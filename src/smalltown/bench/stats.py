"""Small helpers for timing and reporting."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def timed_each(n: int, fn: Callable[[int], Awaitable[Any]]) -> list[float]:
    """Run ``fn(i)`` n times one after another; return each duration in milliseconds."""
    out = []
    for i in range(n):
        start = time.perf_counter()
        await fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def latency(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 50):.2f} ms, p99 {percentile(samples, 99):.2f} ms"
