"""``smalltown worlds list|create|stop|resume``: the worlds in a database, and their status."""

from __future__ import annotations

import argparse
import asyncio
import sys

from smalltown.cli import options
from smalltown.cli.stores import open_town_store
from smalltown.config import Settings

NAME = "worlds"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    worlds = sub.add_parser(NAME, help="list, create, stop and resume worlds")
    worlds.add_argument("action", choices=["list", "create", "stop", "resume"])
    worlds.add_argument("world_id", nargs="?", help="for stop and resume")
    options.database(worlds, settings)
    worlds.add_argument(
        "--agents", type=int, default=5, help="create: how many residents (default 5)"
    )


def handle(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_worlds(args))


async def _worlds(args: argparse.Namespace) -> int:
    from smalltown.town.defaults import many_characters, town_map
    from smalltown.worlds import admin

    if (store := await open_town_store(args.database)) is None:
        return 1
    try:
        if args.action == "list":
            worlds = await admin.list_worlds(store)
            if not worlds:
                print("no worlds yet: `smalltown run` creates the default one")
            for w in worlds:
                flag = " (default)" if w["default"] else ""
                runner = f", stepped by {w['runner']}" if w["runner"] else ""
                print(
                    f"{w['worldId']}  {w['status']:<18} {w['agents']} agents, "
                    f"{w['humans']} humans{flag}{runner}"
                )
        elif args.action == "create":
            try:
                print(await admin.create(store, town_map(), many_characters(args.agents)))
            except ValueError as exc:
                print(f"smalltown: {exc}", file=sys.stderr)
                return 2
        else:
            if not args.world_id:
                print(f"smalltown: worlds {args.action} needs a WORLD_ID", file=sys.stderr)
                return 2
            status = "running" if args.action == "resume" else "stoppedByDeveloper"
            try:
                await admin.set_status(store, args.world_id, status)
            except ValueError as exc:
                print(f"smalltown: {exc}", file=sys.stderr)
                return 1
            print(f"{args.world_id}: {status}")
        return 0
    finally:
        await store.close()
