"""Options several commands share (smalltown.cli.options), and the dispatch table: each
command's flags take their defaults from the environment and their help from the settings
table."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from smalltown.cli import HANDLERS, options, parser
from smalltown.config import BY_ATTRIBUTE, Settings

#: every command that opens a database, with the arguments it needs besides --database
OPENS_A_DATABASE = {
    "run": [],
    "worlds": ["list"],
    "memories": ["reset"],
    "usage": [],
    "import": ["snapshot.zip"],
    "export": ["out.zip"],
    "replay": ["w"],
    "aitown": ["import", "../ai-town"],
    "tables": [],
}


def _subparser(top: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    (sub,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[name]


def _option(command: argparse.ArgumentParser, flag: str) -> argparse.Action:
    (action,) = [a for a in command._actions if flag in a.option_strings]
    return action


def test_every_command_has_a_handler_and_a_bare_smalltown_runs():
    top = parser(Settings())
    (sub,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(sub.choices) == list(HANDLERS)
    assert list(HANDLERS) == [
        "run",
        "worlds",
        "memories",
        "usage",
        "import",
        "export",
        "tables",
        "replay",
        "aitown",
        "bench",
        "eval",
    ]
    assert top.parse_args([]).command is None  # main runs it as `run`


@pytest.mark.parametrize(("command", "rest"), sorted(OPENS_A_DATABASE.items()))
def test_database_defaults_to_the_environment_and_the_flag_overrides_it(command, rest):
    settings = Settings.from_env({"SMALLTOWN_DATABASE_URL": "sqlite:///from/env.db"})
    top = parser(settings)
    assert top.parse_args([command, *rest]).database == "sqlite:///from/env.db"
    given = top.parse_args([command, *rest, "--database", "sqlite:///given.db"])
    assert given.database == "sqlite:///given.db"


@pytest.mark.parametrize(("command", "rest"), sorted(OPENS_A_DATABASE.items()))
def test_database_is_declared_once_with_the_tables_help(command, rest):
    help_text = _option(_subparser(parser(Settings()), command), "--database").help
    assert help_text == f"{BY_ATTRIBUTE['database_url'].help} (overrides SMALLTOWN_DATABASE_URL)"


@pytest.mark.parametrize(
    ("flag", "attribute"),
    [("--database", "database_url"), ("--host", "host"), ("--port", "port"), ("--app", "app")],
)
def test_runs_flags_mirror_their_settings(flag, attribute):
    setting = BY_ATTRIBUTE[attribute]
    option = _option(_subparser(parser(Settings()), "run"), flag)
    assert option.help == f"{setting.help} (overrides {setting.name})"
    assert option.default == setting.default


def test_runs_flags_take_the_environments_values():
    env = {"SMALLTOWN_HOST": "0.0.0.0", "SMALLTOWN_PORT": "8123", "SMALLTOWN_APP": "myapp"}
    args = parser(Settings.from_env(env)).parse_args(["run"])
    assert (args.host, args.port, args.app) == ("0.0.0.0", 8123, "myapp")
    args = parser(Settings.from_env(env)).parse_args(["run", "--port", "9000"])
    assert args.port == 9000


@pytest.mark.parametrize("command", ["run", "import", "export", "tables"])
def test_an_empty_app_means_no_app_for_every_command(command):
    """SMALLTOWN_APP= and --app "" both mean no app, as README says, for run, import,
    export and tables alike; unset, the town."""
    rest = OPENS_A_DATABASE.get(command, [])
    town = parser(Settings.from_env({})).parse_args([command, *rest])
    assert options.app_package(town) == "smalltown.town"
    none = parser(Settings.from_env({"SMALLTOWN_APP": ""})).parse_args([command, *rest])
    assert options.app_package(none) is None
    flag = parser(Settings.from_env({})).parse_args([command, *rest, "--app", ""])
    assert options.app_package(flag) is None
    other = parser(Settings.from_env({"SMALLTOWN_APP": "myapp"})).parse_args([command, *rest])
    assert options.app_package(other) == "myapp"


def test_a_percent_sign_in_a_settings_help_is_printed_as_it_is(monkeypatch, capsys):
    host = dataclasses.replace(BY_ATTRIBUTE["host"], help="100% of the addresses")
    monkeypatch.setattr(options, "BY_ATTRIBUTE", {**BY_ATTRIBUTE, "host": host})
    with pytest.raises(SystemExit):
        parser(Settings()).parse_args(["run", "--help"])
    assert "100% of the addresses (overrides SMALLTOWN_HOST)" in capsys.readouterr().out
