"""The settings table (smalltown.config): defaults, the syntaxes each setting takes, and one
line naming the variable, the value and what it takes for any bad value, before anything
starts."""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

import smalltown
from smalltown.cli import main
from smalltown.config import SETTINGS, SettingError, Settings
from smalltown.llm.prices import KNOWN_PRICES, Price

#: a value each checked setting refuses (the four that take any text are not here)
BAD = {
    "SMALLTOWN_PORT": "abc",
    "SMALLTOWN_PUBLIC_URL": "town.example.org",
    "SMALLTOWN_VIEWERS_MAY_FREEZE": "maybe",
    "SMALLTOWN_RATE_LIMIT": "nan",
    "SMALLTOWN_RATE_BURST": "-5",
    "SMALLTOWN_MAX_BODY_BYTES": "8.5",
    "SMALLTOWN_MAX_SUBSCRIPTIONS": "0",
    "SMALLTOWN_STEP_MS": "fast",
    "SMALLTOWN_REDIS_URL": "localhost:6379",
    "SMALLTOWN_HISTORY_DAYS": "-1",
    "SMALLTOWN_TIME_SCALE": "fast",
    "SMALLTOWN_LLM_TOKENS_PER_HOUR": "1.5",
    "SMALLTOWN_LLM_CONCURRENCY": "none",
    "SMALLTOWN_LLM_PRICES": '{"m": {"input": "free"}}',
    "SMALLTOWN_EMBEDDINGS": "bert",
}
ANY_TEXT = {"SMALLTOWN_DATABASE_URL", "SMALLTOWN_HOST", "SMALLTOWN_APP", "SMALLTOWN_ADMIN_KEY"}


def test_the_table_and_the_settings_object_have_the_same_settings():
    """And the LLM, which AI Town's variables choose (llm/config.py's table)."""
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert sorted([*(s.attribute for s in SETTINGS), "llm"]) == sorted(fields)
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    assert all(s.name.startswith("SMALLTOWN_") and s.help for s in SETTINGS)


def test_nothing_set_gives_the_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.database_url, settings.host, settings.port, settings.app) == (
        "sqlite:///./data/smalltown.db",
        "127.0.0.1",
        8000,
        "smalltown.town",
    )
    assert (settings.admin_key, settings.redis_url, settings.llm_tokens_per_hour) == (None,) * 3
    assert (settings.rate_limit, settings.rate_burst) == (50.0, 200.0)
    assert (settings.max_body_bytes, settings.max_subscriptions) == (8 << 20, 1000)
    assert (settings.step_ms, settings.time_scale, settings.history_days) == (1000, 1, 14)
    assert (settings.llm_concurrency, settings.embeddings) == (8, None)
    assert dict(settings.llm_prices) == KNOWN_PRICES


def test_an_empty_value_is_the_default_but_an_empty_app_serves_none():
    empty = Settings.from_env({s.name: "" for s in SETTINGS})
    assert empty == dataclasses.replace(Settings(), app=None)


@pytest.mark.parametrize(
    ("name", "raw", "attribute", "value"),
    [
        ("SMALLTOWN_PORT", " 8001 ", "port", 8001),
        ("SMALLTOWN_RATE_LIMIT", "1e3", "rate_limit", 1000.0),
        ("SMALLTOWN_MAX_BODY_BYTES", "1_048_576", "max_body_bytes", 1 << 20),
        ("SMALLTOWN_STEP_MS", "250", "step_ms", 250.0),
        ("SMALLTOWN_TIME_SCALE", "10", "time_scale", 10.0),
        ("SMALLTOWN_TIME_SCALE", ".5", "time_scale", 0.5),
        ("SMALLTOWN_HISTORY_DAYS", "0", "history_days", None),  # keep everything
        ("SMALLTOWN_HISTORY_DAYS", " 2.5 ", "history_days", 2.5),
        (
            "SMALLTOWN_REDIS_URL",
            "redis://127.0.0.1:6379/0",
            "redis_url",
            "redis://127.0.0.1:6379/0",
        ),
        ("SMALLTOWN_LLM_TOKENS_PER_HOUR", "20_000", "llm_tokens_per_hour", 20_000),
        ("SMALLTOWN_LLM_CONCURRENCY", "3", "llm_concurrency", 3),
        ("SMALLTOWN_EMBEDDINGS", "Hashed", "embeddings", "hashed"),
        ("SMALLTOWN_APP", "myapp", "app", "myapp"),
        ("SMALLTOWN_ADMIN_KEY", "k", "admin_key", "k"),
    ],
)
def test_each_setting_takes_its_syntax(name, raw, attribute, value):
    assert getattr(Settings.from_env({name: raw}), attribute) == value


def test_prices_add_to_the_built_in_table():
    prices = Settings.from_env({"SMALLTOWN_LLM_PRICES": '{"m": {"input": 0.5}}'}).llm_prices
    assert prices["m"] == Price(0.5, 0.0)
    assert prices["gpt-4o-mini"] == KNOWN_PRICES["gpt-4o-mini"]


def test_every_checked_setting_has_a_bad_value_here():
    assert set(BAD) | ANY_TEXT == {s.name for s in SETTINGS}


@pytest.mark.parametrize(("name", "raw"), sorted(BAD.items()))
def test_a_bad_value_is_one_line_naming_the_setting_the_value_and_what_it_takes(name, raw):
    with pytest.raises(SettingError) as caught:
        Settings.from_env({name: raw})
    message = str(caught.value)
    assert message.startswith(name)
    assert repr(raw) in message or f"={raw}" in message
    assert "\n" not in message
    assert (caught.value.name, caught.value.raw) == (name, raw)


def test_a_long_value_is_cut_in_the_message():
    raw = '{"m": 3, "padding": "' + "x" * 500 + '"}'
    with pytest.raises(SettingError) as caught:
        Settings.from_env({"SMALLTOWN_LLM_PRICES": raw})
    assert 'got \'{"m": 3, "padding": "xxx' in str(caught.value)
    assert len(str(caught.value)) < 300


def test_the_llm_is_read_with_the_settings_and_keeps_its_key_out_of_sight():
    assert Settings.from_env({}).llm is None  # the offline brain
    chosen = Settings.from_env({"LLM_API_URL": "http://127.0.0.1:9/v1/", "LLM_API_KEY": "sk-x"})
    assert (chosen.llm.source, chosen.llm.base_url) == ("LLM_API_URL", "http://127.0.0.1:9/v1")
    assert chosen.llm.api_key == "sk-x" and "sk-x" not in repr(chosen)


def test_the_provider_embedder_needs_a_provider():
    with pytest.raises(SettingError, match="needs an LLM provider"):
        Settings.from_env({"SMALLTOWN_EMBEDDINGS": "provider"})
    chosen = Settings.from_env({"SMALLTOWN_EMBEDDINGS": "provider", "OPENAI_API_KEY": "k"})
    assert chosen.embeddings == "provider"


@pytest.mark.parametrize(("name", "raw"), sorted(BAD.items()))
def test_every_command_refuses_a_bad_setting_before_it_runs(
    name, raw, monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv(name, raw)
    database = f"sqlite:///{tmp_path}/never.db"
    assert main(["worlds", "list", "--database", database]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"smalltown: {name}") and err.count("\n") == 1
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize(
    ("name", "raw"),
    [("SMALLTOWN_TIME_SCALE", "fast"), ("SMALLTOWN_STEP_MS", "0"), ("SMALLTOWN_PORT", "abc")],
)
def test_a_bad_setting_stops_the_server_start_with_one_line(name, raw, tmp_path):
    """SMALLTOWN_STEP_MS and SMALLTOWN_TIME_SCALE were once read by the town, which fell
    back to their defaults on a bad value without a word."""
    env = {**os.environ, name: raw, "SMALLTOWN_DATABASE_URL": f"sqlite:///{tmp_path}/t.db"}
    result = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"smalltown: {name} must be ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "t.db").exists()


def _environment_reads(source: str) -> list[int]:
    """Lines where ``source`` reaches the process's environment (``os.environ``,
    ``getenv``, ``from os import environ``), but for a copy spread into a child process's
    (``{**os.environ, "SMALLTOWN_PORT": ...}``, as the benchmarks start servers)."""
    tree = ast.parse(source)
    spread = {
        id(value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if key is None
    }
    names = {"environ", "environb", "getenv", "getenvb"}
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            named = {alias.name for alias in node.names}
        elif isinstance(node, ast.Attribute) and id(node) not in spread:
            named = {node.attr}
        elif isinstance(node, ast.Name):
            named = {node.id}
        else:
            continue
        if named & names:
            lines.add(node.lineno)
    return sorted(lines)


def test_only_the_settings_table_reads_the_environment():
    """Every part takes its settings from the one Settings, read once in config.py."""
    root = Path(smalltown.__file__).parent
    reads = [
        f"{path.relative_to(root.parent)}:{line}"
        for path in sorted(root.rglob("*.py"))
        if path != root / "config.py"
        for line in _environment_reads(path.read_text())
    ]
    assert reads == []
    assert _environment_reads((root / "config.py").read_text())  # the scan sees it there


def test_the_environment_scan_finds_every_way_of_reading_it():
    for reading in (
        'os.environ.get("SMALLTOWN_STEP_MS", "")',
        'os.getenv("SMALLTOWN_TIME_SCALE")',
        'os.environ["SMALLTOWN_PORT"]',
        '(os.environ if env is None else env).get("SMALLTOWN_LLM_PRICES")',
        'from os import environ\nenviron.get("OPENAI_API_KEY")',
        "choice(os.environ, True)",
    ):
        assert _environment_reads(reading), reading
    child = 'env = {**os.environ, "SMALLTOWN_PORT": "8001"}\nrun(["smalltown"], env=env)'
    assert _environment_reads(child) == []
