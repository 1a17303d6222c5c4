"""``smalltown replay WORLD_ID``: rebuild a world from its inputs and say whether it matches."""

from __future__ import annotations

import argparse
import asyncio
import sys

from smalltown.cli import options
from smalltown.cli.stores import open_town_store
from smalltown.config import Settings

NAME = "replay"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    replay = sub.add_parser(NAME, help="rebuild a world from its inputs and compare")
    replay.add_argument("world_id")
    options.database(replay, settings)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    """0 when the rebuilt world equals the stored one, 3 when it does not."""
    return asyncio.run(_replay(args))


async def _replay(args: argparse.Namespace) -> int:
    from smalltown.worlds.replay import replay

    if (store := await open_town_store(args.database)) is None:
        return 1
    try:
        report = await replay(store, args.world_id)
    except ValueError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(
        f"{report.world_id}: replayed {report.steps} steps and {report.inputs} inputs"
        + (
            f" (the history kept starts after step {report.after_step})"
            if report.after_step >= 0
            else ""
        )
        + f": {report.detail}"
    )
    return 0 if report.equal else 3
