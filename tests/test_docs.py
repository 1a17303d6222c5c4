"""Docs that cannot drift: every setting, command and store error is documented."""

import re
from pathlib import Path

import smalltown
from smalltown import store
from smalltown.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(smalltown.__file__).parent
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
#: what an environment variable's name looks like (OPENAI_API_KEY, SMALLTOWN_PORT)
VARIABLE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def _section(title: str) -> str:
    """The README's text under ``title`` (a ## or ### heading), to the next heading."""
    found = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", README, re.M | re.S)
    assert found, f"no section {title!r} in the README"
    return found.group(1)


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line]
    assert commands == ["make run", "make test"]


def test_the_readmes_settings_table_is_the_settings_table():
    """Every setting with its default, and nothing the code does not read."""
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \|", _section("Configure"), re.M)
    assert dict(rows) == {s.name: s.shown_default for s in SETTINGS}
    assert len(rows) == len(SETTINGS), "a setting listed twice"


def test_every_smalltown_variable_the_code_names_is_in_the_settings_table():
    named = set()
    for path in SOURCE.rglob("*.py"):
        named.update(re.findall(r"\bSMALLTOWN_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    assert named, "the scan found no setting at all"
    assert named <= {s.name for s in SETTINGS}, named - {s.name for s in SETTINGS}


def test_every_llm_variable_is_in_the_readmes_llm_section():
    """The variables the LLM table reads (AI Town's names) are documented where a reader
    choosing a provider looks."""
    from smalltown.llm.config import SOURCES

    theirs = {
        name
        for source in SOURCES
        for name in (source.setting, source.chat[0], source.embedding[0], source.key)
        if name
    }
    assert {"OPENAI_API_KEY", "LLM_API_URL", "OLLAMA_HOST", "LLM_API_KEY"} <= theirs
    section = _section("The LLM")
    assert [n for n in sorted(theirs) if f"`{n}`" not in section] == []


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
        "bench writes",
        "bench agents",
        "bench town",
        "bench import",
        "import --table",
        "aitown import",
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


def test_the_architecture_page_stays_short():
    """A page a newcomer reads in minutes: history goes in commit messages, not here."""
    assert len(ARCHITECTURE.splitlines()) < 250


def test_every_module_says_what_it_holds():
    """A newcomer finds a feature from folder names and each module's first lines."""
    import ast

    bare = [
        str(path.relative_to(SOURCE))
        for path in sorted(SOURCE.rglob("*.py"))
        if not (ast.get_docstring(ast.parse(path.read_text())) or "").strip()
    ]
    assert bare == []
    for path in sorted((SOURCE / "web" / "static").glob("*.js")):
        head = path.read_text().splitlines()[:3]
        assert any(line.startswith("//") and "@ts-check" not in line for line in head), path
