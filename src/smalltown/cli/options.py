"""Options several commands share, declared once: ``--database``, ``--app``, and the flags
that mirror a setting, whose defaults come from the environment and help from the table."""

from __future__ import annotations

import argparse
from typing import Any

from smalltown.config import BY_ATTRIBUTE, Settings


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


def app_schema(parser: argparse.ArgumentParser, settings: Settings, text: str) -> None:
    """``--app PACKAGE`` for commands that use an app's schema, not its functions (import,
    export, tables). Empty (``--app ""``, as ``SMALLTOWN_APP=``) means no app, as for
    ``run``: every table is then undeclared. Read it with :func:`app_package`."""
    setting = BY_ATTRIBUTE["app"]
    help_text = f"{text}; empty for none (overrides {setting.name})"
    parser.add_argument("--app", default=settings.app or "", help=help_text)


def app_package(args: argparse.Namespace) -> str | None:
    """The ``--app`` given (or its setting), None for no app."""
    return getattr(args, "app", None) or None


class AppNotLoaded(Exception):
    """``--app`` names no loadable app; the message is the line to show."""


def app_schema_of(args: argparse.Namespace) -> Any:
    """The schema of the ``--app`` given (an empty one for no app), or
    :class:`AppNotLoaded` saying why there is none."""
    from smalltown.server import load_app

    package = app_package(args)
    try:
        return load_app(package).schema
    except (ImportError, ValueError) as exc:
        raise AppNotLoaded(f"cannot load app {package!r}: {exc}") from None
