"""The front door: ``smalltown`` serves; ``smalltown bench ...`` measures.

One module a command (``run``, ``worlds``, ``memories``, ``usage``, ``import_``, ``export``,
``tables``, ``replay``, ``aitown``, ``bench``, ``eval``), each with ``NAME``, ``add_parser(sub,
settings)`` and ``handle(args, settings) -> exit code``; options several share are in
``options``, the usage table's columns in ``table``, long commands' progress lines in
``progress``.
Settings are read (and a bad one refused) before any command runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from smalltown import __version__
from smalltown.cli import (
    aitown,
    bench,
    eval,
    export,
    import_,
    memories,
    replay,
    run,
    tables,
    usage,
    worlds,
)
from smalltown.config import Settings

DESCRIPTION = "The front door: ``smalltown`` serves; ``smalltown bench ...`` measures."
#: the commands, in the order ``smalltown --help`` lists them
COMMANDS = (run, worlds, memories, usage, import_, export, tables, replay, aitown, bench, eval)
#: ``smalltown NAME`` → what runs it, given the parsed flags and the settings
HANDLERS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    command.NAME: command.handle for command in COMMANDS
}


def parser(settings: Settings) -> argparse.ArgumentParser:
    """Every command's flags, their defaults from ``settings``."""
    top = argparse.ArgumentParser(prog="smalltown", description=DESCRIPTION)
    top.add_argument("--version", action="version", version=f"smalltown {__version__}")
    sub = top.add_subparsers(dest="command")
    for command in COMMANDS:
        command.add_parser(sub, settings)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 2
    args = parser(settings).parse_args(argv)
    return HANDLERS[args.command or run.NAME](args, settings)
