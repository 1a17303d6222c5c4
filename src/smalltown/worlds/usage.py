"""Each world's LLM usage, in the store: one row per world per clock hour per process.

A row counts calls, failures, tokens in (prompts and texts embedded) and out, the estimated
cost, and latencies in fixed buckets, so p50/p99 come from counts instead of samples and a
call costs a small share of one write. Rows live in the store, so they survive restarts,
and a query, ``/metrics`` and the CLI read them alike, summing the rows of every process
that serves the world (each writes its own: see :func:`record_calls`). Each call is priced
as it is recorded, with the price table of the process that made it; a model without a
price marks the window's cost unknown and names the model.

Calls are recorded through the town's ``usage:record`` (a mutation, so an action's meter,
``meter.py``, can write from outside a transaction), which calls :func:`record_calls`
with what ``meter.UsageLog`` gathered: the calls that ended while the process's last
record was being written go in its next one, together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from smalltown.llm.budget import HOUR_SECONDS, hour_of
from smalltown.llm.prices import SETTING as PRICES_SETTING
from smalltown.llm.prices import Cost
from smalltown.store import Range

TABLE = "smalltownLlmUsage"
#: upper bounds of the latency buckets, in ms; one more bucket holds anything slower
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    50, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000, 30_000, 60_000,
)  # fmt: skip
DAY_HOURS = 24


def bucket_of(ms: float) -> int:
    """The latency bucket ``ms`` falls in (a bound belongs to its own bucket)."""
    for i, bound in enumerate(LATENCY_BUCKETS_MS):
        if ms <= bound:
            return i
    return len(LATENCY_BUCKETS_MS)


def quantile(counts: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of latencies counted in buckets, interpolated linearly
    inside its bucket; the slowest bucket's lower bound when it lands there; None if empty."""
    if not 0 <= q <= 1:
        raise ValueError(f"a quantile is between 0 and 1, got {q}")
    total = sum(counts)
    if total <= 0:
        return None
    rank, below = q * total, 0.0
    for i, count in enumerate(counts):
        if count > 0 and below + count >= rank:
            lower = LATENCY_BUCKETS_MS[i - 1] if i > 0 else 0.0
            if i >= len(LATENCY_BUCKETS_MS):
                return float(lower)
            upper = LATENCY_BUCKETS_MS[i]
            return float(lower + (upper - lower) * max(rank - below, 0.0) / count)
        below += count
    return float(LATENCY_BUCKETS_MS[-1])


@dataclass
class Tally:
    """Usage summed over rows: a window of hours for one world."""

    calls: int = 0
    failures: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    unpriced: set[str] = field(default_factory=set)
    local: bool = False
    latency: list[float] = field(default_factory=lambda: [0.0] * (len(LATENCY_BUCKETS_MS) + 1))

    def add(self, row: dict[str, Any]) -> None:
        self.calls += int(row["calls"])
        self.failures += int(row["failures"])
        self.tokens_in += int(row["promptTokens"])
        self.tokens_out += int(row["completionTokens"])
        self.cost_usd += row["costUsd"]
        self.unpriced.update(row["unpriced"])
        self.local = self.local or row["local"]
        for i, count in enumerate(row["latencyMs"]):
            self.latency[i] += count

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    def cost(self) -> Cost:
        if self.unpriced:
            names = ", ".join(sorted(self.unpriced))
            return Cost(None, f"unknown: no price for {names}; set {PRICES_SETTING}")
        if self.local and self.cost_usd == 0:
            return Cost(0.0, "local: the server runs on this machine or network")
        if self.calls == 0:
            return Cost(0.0, "no LLM calls")
        return Cost(self.cost_usd, "estimated from list prices")

    def as_dict(self) -> dict[str, Any]:
        p50, p99 = quantile(self.latency, 0.5), quantile(self.latency, 0.99)
        return {  # numbers as float64, as Convex clients expect them (ints would be Int64)
            "calls": float(self.calls),
            "failures": float(self.failures),
            "tokensIn": float(self.tokens_in),
            "tokensOut": float(self.tokens_out),
            "latencyMs": {
                "p50": None if p50 is None else round(p50, 1),
                "p99": None if p99 is None else round(p99, 1),
            },
            "cost": self.cost().as_dict(),
        }


def _empty(world_id: str, hour: float) -> dict[str, Any]:
    return {
        "worldId": world_id,
        "hour": hour,
        "calls": 0.0,
        "failures": 0.0,
        "promptTokens": 0.0,
        "completionTokens": 0.0,
        "costUsd": 0.0,
        "unpriced": [],
        "local": False,
        "latencyMs": [0.0] * (len(LATENCY_BUCKETS_MS) + 1),
    }


async def record_calls(db, writer: str, calls: Sequence[dict[str, Any]]) -> None:
    """Add LLM calls to their worlds' rows for the hour, the rows of ``writer`` (one
    process): each call's ``worldId``, ``hour``, ``model``, ``ok`` and optional
    ``promptTokens``, ``completionTokens``, ``latencyMs``, ``costUsd``, ``local``.

    A process writes rows of its own and reads no other's: calls from every process of
    a busy town would otherwise all rewrite one row, and conflict."""
    rows: dict[tuple[str, float], tuple[str | None, dict[str, Any]]] = {}
    for call in calls:
        key = (call["worldId"], float(call["hour"]))
        if key not in rows:
            eq = {"worldId": key[0], "hour": key[1], "writer": writer}
            row = await db.first(TABLE, "worldHour", eq=eq)
            fields = _empty(*key) if row is None else {k: row[k] for k in _empty("", 0.0)}
            rows[key] = (None if row is None else row["_id"], {**fields, "writer": writer})
        _add(rows[key][1], call)
    for row_id, fields in rows.values():
        if row_id is None:
            await db.insert(TABLE, fields)
        else:
            await db.patch(row_id, fields)


def _add(fields: dict[str, Any], call: dict[str, Any]) -> None:
    """Count one call into a row's ``fields``."""
    ok, model = call["ok"], call["model"]
    fields["calls"] += 1
    fields["failures"] += 0 if ok else 1
    fields["promptTokens"] += call.get("promptTokens", 0.0)
    fields["completionTokens"] += call.get("completionTokens", 0.0)
    cost_usd = call.get("costUsd")
    if ok and cost_usd is None and model not in fields["unpriced"]:
        fields["unpriced"] = [*fields["unpriced"], model]
    fields["costUsd"] += cost_usd or 0.0
    fields["local"] = fields["local"] or call.get("local", False)
    if (latency_ms := call.get("latencyMs")) is not None:
        latency = list(fields["latencyMs"])
        latency[bucket_of(latency_ms)] += 1
        fields["latencyMs"] = latency


async def tokens_this_hour(db, world_id: str, hour: float) -> float:
    """The world's tokens this hour, every process's rows summed."""
    rows = await db.query(TABLE, "worldHour", eq={"worldId": world_id, "hour": float(hour)})
    return float(sum(row["promptTokens"] + row["completionTokens"] for row in rows))


def summarize(
    world_id: str, rows: Iterable[dict[str, Any]], now: float, budget: int | None
) -> dict[str, Any]:
    """A world's usage this hour and over the last 24 hours (this one and the 23 before),
    with its budget and what is left of it."""
    hour = hour_of(now)
    this_hour, day = Tally(), Tally()
    for row in rows:
        if row["hour"] > hour - DAY_HOURS:
            day.add(row)
        if row["hour"] == hour:
            this_hour.add(row)
    return {
        "worldId": world_id,
        "hour": {"since": hour * HOUR_SECONDS * 1000.0, **this_hour.as_dict()},
        "day": {"since": (hour - DAY_HOURS + 1) * HOUR_SECONDS * 1000.0, **day.as_dict()},
        "budget": {
            "tokensPerHour": None if budget is None else float(budget),
            "used": float(this_hour.tokens),
            "left": None if budget is None else float(max(budget - this_hour.tokens, 0)),
            "resetsAt": (hour + 1) * HOUR_SECONDS * 1000.0,
        },
    }


async def world_usage(db, world_id: str, now: float, budget: int | None) -> dict[str, Any]:
    """:func:`summarize` for one world, read through its index (a row an hour for each
    process that made calls)."""
    rows = await db.query(
        TABLE,
        "worldHour",
        eq={"worldId": world_id},
        range=Range("hour", gt=float(hour_of(now) - DAY_HOURS)),
    )
    return summarize(world_id, rows, now, budget)


async def all_worlds_usage(db, now: float, budget: int | None) -> list[dict[str, Any]]:
    """:func:`summarize` for every world, including those that made no calls yet."""
    rows = await db.query(TABLE, "hour", range=Range("hour", gt=float(hour_of(now) - DAY_HOURS)))
    by_world: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_world.setdefault(row["worldId"], []).append(row)
    for status in await db.query("worldStatus"):
        by_world.setdefault(status["worldId"], [])
    return [summarize(w, by_world[w], now, budget) for w in sorted(by_world)]


WINDOWS = (("hour", "hour"), ("day", "24h"))  # (key in a summary, the metrics label)


def world_gauges(summaries: Iterable[dict[str, Any]]) -> dict[str, tuple]:
    """Gauges for ``/metrics``, labelled by world and window (this hour, the last 24 h);
    latency and cost only where known."""
    series: dict[str, tuple[str, dict[tuple[str, ...], float]]] = {
        "smalltown_world_llm_calls": ("LLM calls by world (answered or failed)", {}),
        "smalltown_world_llm_failures": ("LLM calls that failed, by world", {}),
        "smalltown_world_llm_tokens_in": ("LLM tokens in (prompts, embedded text)", {}),
        "smalltown_world_llm_tokens_out": ("LLM tokens out (completions)", {}),
        "smalltown_world_llm_latency_p50_ms": ("LLM call latency p50, ms (from buckets)", {}),
        "smalltown_world_llm_latency_p99_ms": ("LLM call latency p99, ms (from buckets)", {}),
        "smalltown_world_llm_cost_usd": ("Estimated LLM spend, US dollars, priced worlds", {}),
    }
    budget_left: dict[tuple[str, ...], float] = {}
    for summary in summaries:
        world = summary["worldId"]
        for key, window in WINDOWS:
            part, labels = summary[key], (world, window)
            series["smalltown_world_llm_calls"][1][labels] = part["calls"]
            series["smalltown_world_llm_failures"][1][labels] = part["failures"]
            series["smalltown_world_llm_tokens_in"][1][labels] = part["tokensIn"]
            series["smalltown_world_llm_tokens_out"][1][labels] = part["tokensOut"]
            for q in ("p50", "p99"):
                if part["latencyMs"][q] is not None:
                    series[f"smalltown_world_llm_latency_{q}_ms"][1][labels] = part["latencyMs"][q]
            if part["cost"]["usd"] is not None:
                series["smalltown_world_llm_cost_usd"][1][labels] = part["cost"]["usd"]
        if summary["budget"]["left"] is not None:
            budget_left[(world,)] = summary["budget"]["left"]
    out: dict[str, tuple] = {
        name: (text, ("world", "window"), values) for name, (text, values) in series.items()
    }
    out["smalltown_world_llm_budget_left_tokens"] = (
        "Tokens left this hour of the world's budget (SMALLTOWN_LLM_TOKENS_PER_HOUR)",
        ("world",),
        budget_left,
    )
    return out
