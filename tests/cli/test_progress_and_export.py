"""Long commands' progress (import, export, reembed) as a terminal and a log each see it,
and `smalltown export` refusing a path it cannot write with one line naming the folder."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from smalltown.cli.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_redrawn_and_the_last_ends_it() -> None:
    out = Terminal()
    shown = Progress(out)
    shown.show("  a: 1 documents")
    shown.show("  a: 2 documents")
    shown.done("exported 2 documents")
    assert out.getvalue() == (
        "\r  a: 1 documents\x1b[K\r  a: 2 documents\x1b[K\r\x1b[Kexported 2 documents\n"
    )


def test_elsewhere_each_line_is_whole_and_they_come_every_few_seconds() -> None:
    out = io.StringIO()
    shown = Progress(out, every=0)
    shown.show("  a: 1 documents")
    shown.show("  a: 2 documents")
    shown.done("exported 2 documents")
    assert out.getvalue() == "  a: 1 documents\n  a: 2 documents\nexported 2 documents\n"
    quiet = io.StringIO()
    shown = Progress(quiet)  # the first line only after PROGRESS_EVERY seconds
    shown.show("  a: 1 documents")
    shown.done("exported 1 documents")
    assert quiet.getvalue() == "exported 1 documents\n"


def _smalltown(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMALLTOWN_")}
    result = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,  # not a terminal: a log, as CI or a redirect sees it
        timeout=120,
    )
    # (decoded by hand: text mode would turn each \r into a line break)
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def test_export_and_import_into_a_log_print_whole_lines(tmp_path: Path) -> None:
    town = f"sqlite:///{tmp_path}/town.db"
    assert _smalltown(tmp_path, "worlds", "create", "--database", town).returncode == 0
    exported = _smalltown(tmp_path, "export", "town.zip", "--database", town)
    assert exported.returncode == 0, exported.stderr
    assert "\r" not in exported.stderr
    assert exported.stderr.splitlines()[-1].startswith("exported ")
    imported = _smalltown(
        tmp_path, "import", "town.zip", "--database", f"sqlite:///{tmp_path}/copy.db"
    )
    assert imported.returncode == 0, imported.stderr
    assert "\r" not in imported.stderr and "\x1b" not in imported.stderr
    assert any(line.startswith("imported ") for line in imported.stderr.splitlines())


def test_export_to_a_folder_that_does_not_exist_is_one_line_naming_it(tmp_path: Path) -> None:
    result = _smalltown(
        tmp_path, "export", "/nonexistent/dir/x.zip", "--database", f"sqlite:///{tmp_path}/t.db"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "smalltown: cannot write /nonexistent/dir/x.zip: the folder /nonexistent/dir does not exist"
    )
    assert not (tmp_path / "t.db").exists()  # refused before the database was opened


def test_export_onto_a_folder_or_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = _smalltown(tmp_path, "export", "a-file/x.zip", "--database", "sqlite:///t.db")
    assert result.returncode == 1
    assert result.stderr.strip() == "smalltown: cannot write a-file/x.zip: a-file is not a folder"
    result = _smalltown(tmp_path, "export", str(tmp_path), "--database", "sqlite:///t.db")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"smalltown: cannot write {tmp_path}: it is a folder; give the .zip file to write"
    )
