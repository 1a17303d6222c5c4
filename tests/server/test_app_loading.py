"""An app is a package of function modules: a regular package or a namespace package
(a folder with no ``__init__.py``), with its assets found beside its modules."""

import sys

import pytest

from smalltown.server.app import load_app

SCHEMA = """from smalltown.store import Schema, Table

schema = Schema([Table("notes")])
"""
FUNCTIONS = """from smalltown.runtime import query


@query
async def count(ctx) -> int:
    return len(await ctx.db.query("notes"))
"""


def _write_app(root, name, *, package_file: bool):
    folder = root / name
    (folder / "assets").mkdir(parents=True)
    (folder / "schema.py").write_text(SCHEMA)
    (folder / "notes.py").write_text(FUNCTIONS)
    if package_file:
        (folder / "__init__.py").write_text("")
    return folder


@pytest.mark.parametrize(
    ("name", "package_file"),
    [("namespace_notes_app", False), ("regular_notes_app", True)],
    ids=["namespace package", "regular package"],
)
def test_an_app_package_loads_with_its_assets(tmp_path, monkeypatch, name, package_file):
    folder = _write_app(tmp_path, name, package_file=package_file)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        app = load_app(name)
    finally:
        for loaded in [n for n in sys.modules if n.startswith(name)]:
            del sys.modules[loaded]
    assert app.assets == folder / "assets"
    assert [spec.path for spec in app.registry] == ["notes:count"]
