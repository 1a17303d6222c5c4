"""``smalltown eval diffusion``: how far news travels in the town, against the LLM this
process is configured with (or the offline brain); figures printed, not judged."""

from __future__ import annotations

import argparse
import asyncio

from smalltown.config import Settings

NAME = "eval"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    evaluate = sub.add_parser(NAME, help="run a scenario against the configured LLM; prints")
    scenarios = evaluate.add_subparsers(dest="scenario", required=True)
    diffusion = scenarios.add_parser(
        "diffusion",
        help="one resident is told of a party; after the run, who knows and who came",
    )
    diffusion.add_argument("--residents", type=int, default=5, help="how many (default 5)")
    diffusion.add_argument(
        "--minutes", type=float, default=60.0, help="game minutes to run (default 60)"
    )
    diffusion.add_argument("--database", default=None, help="default: a temporary SQLite file")


def handle(args: argparse.Namespace, settings: Settings) -> int:
    if args.residents < 2 or args.minutes <= 0:
        print("smalltown eval diffusion: needs --residents 2 or more and --minutes above 0")
        return 2
    return asyncio.run(_diffusion(args, settings))


async def _diffusion(args: argparse.Namespace, settings: Settings) -> int:
    from smalltown.bench.diffusion import run_diffusion
    from smalltown.worlds.llm_setup import open_llm

    llm, embedder = await open_llm(settings)
    try:
        print(
            f"diffusion: {args.residents} residents, {args.minutes:g} game minutes, "
            f"{llm.description}"
        )
        found = await run_diffusion(
            llm,
            embedder,
            residents=args.residents,
            game_minutes=args.minutes,
            database=args.database,
            progress=lambda line: print(f"  … {line}", flush=True),
        )
    finally:
        await llm.close()
    for line in found.lines_of_report():
        print(line)
    return 0
