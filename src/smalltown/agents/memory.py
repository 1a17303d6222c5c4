"""Ranking memories: relevance, importance and recency, each scaled to 0..1, added.

AI Town divides by (max - min) and so returns NaN when every score is equal (one memory,
say); here an even set of scores counts as a tie at 1, never as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

RECENCY_PER_HOUR = 0.99
HOUR_MS = 3_600_000


def normalise(values: Sequence[float]) -> list[float]:
    if not values:
        return []
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return [1.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def rank(
    candidates: Sequence[tuple[str, float, float, float]], now: float, count: int
) -> list[str]:
    """``(memory id, cosine relevance, importance 0-9, last access ms)`` → best ``count`` ids."""
    if not candidates:
        return []
    relevance = normalise([c[1] for c in candidates])
    importance = normalise([c[2] for c in candidates])
    recency = normalise([RECENCY_PER_HOUR ** max(0.0, (now - c[3]) / HOUR_MS) for c in candidates])
    scored = sorted(
        zip(candidates, relevance, importance, recency, strict=True),
        key=lambda item: (-(item[1] + item[2] + item[3]), item[0][0]),
    )
    return [item[0][0] for item in scored[:count]]


def parse_importance(text: str) -> float:
    """The first digit 0-9 in a model's answer; 5 when there is none."""
    for char in text:
        if char.isdigit():
            return float(char)
    return 5.0
