"""`smalltown run` refuses what it cannot serve on with one line and a non-zero exit, before
anything starts: a port out of range (the same check as SMALLTOWN_PORT), a port in use,
a data folder it cannot write."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

NOBODY = ("nobody", "nogroup")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SMALLTOWN_")}


def _smalltown(cwd: Path, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smalltown.cli", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_a_port_flag_out_of_range_is_refused_as_the_setting_is(tmp_path: Path, port: str) -> None:
    result = _smalltown(tmp_path, "run", "--port", port)
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert last == (
        f"smalltown run: error: argument --port: must be a port number (1 to 65535), got {port!r}"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was opened


def test_a_port_in_use_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _smalltown(tmp_path, "run", "--port", str(port))
    assert result.returncode == 1
    assert _one_line(result) == (
        f"smalltown: cannot start: 127.0.0.1:{port} is in use (another smalltown? choose "
        "another with --port or SMALLTOWN_PORT)"
    )
    assert not (tmp_path / "data").exists()  # the port is taken before the store opens


def test_a_host_that_is_not_here_is_one_line(tmp_path: Path) -> None:
    result = _smalltown(tmp_path, "run", "--host", "192.0.2.1", "--port", "8000")  # TEST-NET
    assert result.returncode == 1
    assert _one_line(result).startswith(
        "smalltown: cannot start: cannot listen on 192.0.2.1:8000: "
    )


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder in /tmp that any user can enter (pytest's own are its owner's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="smalltown-perm-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):
        path.chmod(0o755)
    shutil.rmtree(folder)


def _as_a_user(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`smalltown ARGS` as an unprivileged user: root may write any folder, so as root the
    test runs the command as `nobody` (setpriv), which a folder's mode then binds."""
    command = [sys.executable, "-m", "smalltown.cli", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: no user the folder's mode binds")
        user, group = NOBODY
        command = [setpriv, f"--reuid={user}", f"--regid={group}", "--clear-groups", *command]
    return subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=60)


def test_a_data_folder_it_cannot_write_is_named(shared_folder: Path) -> None:
    data = shared_folder / "data"
    data.mkdir()
    data.chmod(0o555)  # exists, readable, not writable
    probe = _as_a_user(shared_folder, "--version")
    if probe.returncode != 0:
        pytest.skip(f"an unprivileged user cannot run this interpreter: {probe.stderr.strip()}")
    result = _as_a_user(shared_folder, "run", "--port", str(_free_port()))
    assert result.returncode == 1
    line = _one_line(result)
    assert line.startswith("smalltown: cannot start: sqlite:///./data/smalltown.db: "), line
    assert f"its folder {data} is not writable" in line, line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
