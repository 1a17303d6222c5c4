"""``--app`` for the commands that read an app's schema: one that cannot be loaded is one
line and exit status 1, before the database is touched."""

import pytest

from smalltown.cli import main


@pytest.mark.parametrize(
    "command", [["import", "s.zip"], ["export", "out.zip"], ["tables"]], ids=lambda c: c[0]
)
def test_an_app_that_cannot_be_loaded_is_one_line(tmp_path, capsys, command):
    db = tmp_path / "never.db"
    code = main([*command, "--database", f"sqlite:///{db}", "--app", "no_such_app_here"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("smalltown: cannot load app 'no_such_app_here': No module named")
    assert "Traceback" not in err and not db.exists()
