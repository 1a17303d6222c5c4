"""Options several commands share, declared once: ``--database``, ``--app``, and the flags
that mirror a setting, whose defaults come from the environment and help from the table."""

from __future__ import annotations

import argparse
from typing import Any

from smalltown.config import BY_ATTRIBUTE, DEFAULT_APP, Settings


def mirror(
    parser: argparse.ArgumentParser, flag: str, settings: Settings, attribute: str, **kwargs: Any
) -> None:
    """``flag`` for the setting ``attribute``: its value from the environment (or the
    default) unless given, and its help from the settings table."""
    setting = BY_ATTRIBUTE[attribute]
    text = f"{setting.help} (overrides {setting.name})".replace("%", "%%")  # argparse formats
    parser.add_argument(flag, default=getattr(settings, attribute), help=text, **kwargs)


def database(parser: argparse.ArgumentParser, settings: Settings) -> None:
    """``--database URL``: the store a command opens."""
    mirror(parser, "--database", settings, "database_url")


def app_tables(parser: argparse.ArgumentParser, settings: Settings, text: str) -> None:
    """``--app PACKAGE`` for import and export: the app whose schema names the tables; the
    town's when ``SMALLTOWN_APP`` is empty, since a snapshot needs one."""
    parser.add_argument("--app", default=settings.app or DEFAULT_APP, help=text)
