"""An app is a package of function modules: a regular package or a namespace package
(a folder with no ``__init__.py``), with its assets found beside its modules."""

import sys

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


def test_a_namespace_package_app_loads_with_its_assets(tmp_path, monkeypatch):
    folder = _write_app(tmp_path, "namespace_notes_app", package_file=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        app = load_app("namespace_notes_app")
    finally:
        for name in [n for n in sys.modules if n.startswith("namespace_notes_app")]:
            del sys.modules[name]
    assert app.assets == folder / "assets"
    assert [spec.path for spec in app.registry] == ["notes:count"]


def test_a_regular_package_app_loads_with_its_assets(tmp_path, monkeypatch):
    folder = _write_app(tmp_path, "regular_notes_app", package_file=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        app = load_app("regular_notes_app")
    finally:
        for name in [n for n in sys.modules if n.startswith("regular_notes_app")]:
            del sys.modules[name]
    assert app.assets == folder / "assets"
    assert [spec.path for spec in app.registry] == ["notes:count"]
