"""Each world's hourly token budget: the setting, the clock hour, and what to say when spent.

``SMALLTOWN_LLM_TOKENS_PER_HOUR`` caps the tokens (in and out, embeddings included) that one
world's LLM calls use in a clock hour (UTC). The count lives in the store, so it holds across
restarts and across processes serving the same worlds; see :mod:`smalltown.worlds.usage`.
"""

from __future__ import annotations

import time

from smalltown.llm.errors import LLMBudgetExceeded

SETTING = "SMALLTOWN_LLM_TOKENS_PER_HOUR"
HOUR_SECONDS = 3600


class BudgetSettingError(ValueError):
    """SMALLTOWN_LLM_TOKENS_PER_HOUR is not a positive whole number."""


def parse_tokens_per_hour(raw: str) -> int | None:
    """The budget for each world that ``SMALLTOWN_LLM_TOKENS_PER_HOUR``'s text gives (the
    settings table's parser, ``smalltown.config``), or None for no cap."""
    text = raw.strip().replace("_", "")
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise BudgetSettingError(
            f"{SETTING} must be a whole number of tokens above 0 (each world's cap per clock "
            f"hour), or unset for no cap; got {text!r}"
        )
    return int(text)


def hour_of(seconds: float) -> int:
    """The clock hour (UTC) a moment falls in, counted from the epoch."""
    return int(seconds // HOUR_SECONDS)


def check(limit: int | None, used: float, now: float) -> None:
    """Raise :class:`LLMBudgetExceeded` with the fix when ``used`` has reached ``limit``."""
    if limit is None or used < limit:
        return
    resets = float((hour_of(now) + 1) * HOUR_SECONDS)
    minutes = int((resets - now) // 60) + 1
    raise LLMBudgetExceeded(
        f"this world's LLM budget of {limit:,} tokens an hour is spent ({int(used):,} used); "
        f"LLM calls pause until {time.strftime('%H:%M UTC', time.gmtime(resets))} "
        f"(in {minutes} min) while the characters keep walking. Raise {SETTING} to allow more",
        tokens_per_hour=limit,
        resets_at=resets,
    )
