"""``smalltown aitown import PATH``: a world made from an AI Town checkout's characters, map
and images (``worlds/checkout/``), or the world an earlier import made, updated in place."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from smalltown.cli import options
from smalltown.cli.stores import open_town_store
from smalltown.config import Settings
from smalltown.engine.constants import SPEED_TILES_PER_S

NAME = "aitown"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    aitown = sub.add_parser(NAME, help="bring your AI Town: import a checkout's town")
    aitown.add_argument("action", choices=["import"])
    aitown.add_argument("path", type=Path, help="an AI Town checkout (with data/ and public/)")
    options.database(aitown, settings)
    target = aitown.add_mutually_exclusive_group()
    target.add_argument("--world", help="update this world in place")
    target.add_argument(
        "--name",
        help="the imported world's name; importing again under it updates that world in "
        "place (default: the checkout folder's name)",
    )


def handle(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_import(args))


async def _import(args: argparse.Namespace) -> int:
    from smalltown.worlds.checkout.install import default_name, install
    from smalltown.worlds.checkout.js_data import CheckoutError
    from smalltown.worlds.checkout.reader import read_checkout

    started = time.perf_counter()
    try:
        town = read_checkout(args.path)
    except CheckoutError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    read = time.perf_counter() - started
    if (store := await open_town_store(args.database)) is None:
        return 1
    try:
        name = args.name or default_name(args.path)
        done = await install(store, town, name, args.world, str(args.path.resolve()))
    except CheckoutError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    took = time.perf_counter() - started
    verb = "created" if done.created else "updated"
    map_note = "" if done.map_changed else " (unchanged)"
    m = town.map
    print(
        f"{done.world_id}: {verb} from {args.path} ({name!r}): {len(town.characters)} "
        f"characters ({done.updated} updated in place, {done.added} arriving, {done.kept} "
        f"kept as they were), a {m.width}x{m.height} map with {len(m.animated_sprites)} "
        f"animated sprites{map_note}; {done.files_stored} files stored, "
        f"{done.files_reused} reused; {done.documents} documents written in {took:.2f} s "
        f"(reading {read:.2f} s)"
    )
    if town.movement_speed is not None and town.movement_speed != SPEED_TILES_PER_S:
        print(
            f"note: movementSpeed {town.movement_speed} is not applied; residents walk "
            f"{SPEED_TILES_PER_S} tiles a second"
        )
    return 0
