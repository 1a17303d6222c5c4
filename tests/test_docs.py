"""Docs that cannot drift: every setting, command and store error is documented."""

from pathlib import Path

from smalltown import store
from smalltown.config import SETTINGS_DOC

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line]
    assert commands == ["make run", "make test"]


def test_every_setting_is_in_the_readme():
    for name in SETTINGS_DOC:
        assert f"`{name}`" in README, name


def test_every_cli_command_is_in_the_readme():
    commands = (
        "run",
        "worlds list",
        "replay",
        "memories reset",
        "memories reembed",
        "usage",
        "bench store",
        "bench realtime",
        "bench engine",
        "bench agents",
        "bench import",
        "import --table",
    )
    for command in (f"smalltown {c}" for c in commands):
        assert command in README, command


def test_every_store_error_is_in_the_architecture_page():
    errors = [n for n in store.__all__ if n.endswith("Error")]
    assert errors
    for name in errors:
        assert name in ARCHITECTURE, name


def test_benchmarks_page_has_the_store_figures():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    for figure in ("inserts", "point reads", "index query", "vector search"):
        assert figure in text.lower(), figure
