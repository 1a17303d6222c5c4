"""``smalltown usage``: each world's LLM calls, tokens, latency, cost and budget, read from
the database (kept there per world by every process), so no server need run."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from smalltown.cli import options
from smalltown.cli.stores import open_town_store
from smalltown.cli.table import Column, blank, header, line
from smalltown.config import Settings

NAME = "usage"
COLUMNS = (
    Column("world", 34),
    Column("window", 6),
    Column("calls", 7, right=True),
    Column("failed", 6, right=True),
    Column("tokens in", 11, right=True),
    Column("tokens out", 11, right=True),
    Column("p50 ms", 8, right=True),
    Column("p99 ms", 8, right=True),
    Column("cost", gap=2),
)


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    usage = sub.add_parser(
        NAME,
        help="each world's LLM calls, tokens, latency, estimated cost and budget (this hour "
        "and the last 24 h), read from the database",
    )
    options.database(usage, settings)
    usage.add_argument("--world", help="only this world")


def handle(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_usage(args, settings))


async def _usage(args: argparse.Namespace, settings: Settings) -> int:
    """Read the store, not a server: usage is kept there per world, by every process."""
    from smalltown.worlds import admin

    if (store := await open_town_store(args.database)) is None:
        return 1
    try:
        worlds = await admin.llm_usage(store, settings.llm_tokens_per_hour)
    finally:
        await store.close()
    if args.world:
        worlds = [w for w in worlds if w["worldId"] == args.world]
        if not worlds:
            print(
                f"smalltown: no world {args.world!r}; see `smalltown worlds list`", file=sys.stderr
            )
            return 1
    if not worlds:
        print("no worlds yet: `smalltown run` creates the default one")
        return 0
    print(header(COLUMNS))
    reasons = set()
    for world in worlds:
        for key, label in (("hour", "hour"), ("day", "24h")):
            part = world[key]
            latency = part["latencyMs"]
            usd = part["cost"]["usd"]
            if usd is None:
                reasons.add(part["cost"]["basis"])
            cells = (
                world["worldId"] if key == "hour" else "",
                label,
                f"{part['calls']:,.0f}",
                f"{part['failures']:,.0f}",
                f"{part['tokensIn']:,.0f}",
                f"{part['tokensOut']:,.0f}",
                _ms(latency["p50"]),
                _ms(latency["p99"]),
                "unknown" if usd is None else f"${usd:,.4f}",
            )
            print(line(COLUMNS, cells))
        budget = world["budget"]
        if budget["tokensPerHour"] is not None:
            left = budget["left"]
            print(
                f"{blank(COLUMNS[0])} budget {budget['tokensPerHour']:,.0f} tokens an hour: "
                f"{left:,.0f} left"
                + ("" if left else f", paused until {_clock(budget['resetsAt'])}")
            )
    if worlds[0]["budget"]["tokensPerHour"] is None:
        print("no budget: set SMALLTOWN_LLM_TOKENS_PER_HOUR to cap each world's tokens an hour")
    for reason in sorted(reasons):
        print(f"cost {reason}")
    return 0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _clock(ms: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(ms / 1000))
