"""Helpers shared by tests: a real server on a loopback port, waiting on conditions, a
private PostgreSQL cluster to stop and start.

Tests wait for what they can observe, never for a length of time: ``wait_for`` (sync)
and ``eventually`` (async) poll a condition until it holds, under a deadline generous
enough for a loaded machine, and fail saying what never happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

T = TypeVar("T")
POLL_SECONDS = 0.02  # between two looks at a condition: short, as a look is cheap


def wait_for(
    condition: Callable[[], T],
    what: str = "the condition",
    timeout: float = 10.0,
    interval: float = POLL_SECONDS,
) -> T:
    """Call ``condition()`` until it returns something true, and return that; after
    ``timeout`` seconds fail with an AssertionError naming ``what`` was awaited.
    An exception from ``condition`` ends the wait at once (a process that died, say)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}, in vain")
        time.sleep(interval)


async def eventually(
    check: Callable[[], Awaitable[T] | T],
    what: str = "the condition",
    timeout: float = 10.0,
    interval: float = POLL_SECONDS,
) -> T:
    """``wait_for`` on the event loop: ``check`` may be a coroutine function, and other
    tasks run between looks."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}, in vain")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def refusing_url() -> Iterator[str]:
    """A loopback URL where nothing listens, for as long as the block runs: the port stays
    bound (never listening), so every connection is refused at once and no other server
    can take the port meanwhile and leave a request hanging."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


class RunningServer:
    """A uvicorn server on a loopback port inside the test's event loop."""

    def __init__(self, app, port: int | None = None, **config) -> None:
        self.app = app
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **config)
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RunningServer:
        self.task = asyncio.create_task(self.server.serve())

        def started() -> bool:
            if self.task.done():
                self.task.result()
                raise RuntimeError("the server stopped while starting")
            return self.server.started

        await eventually(started, f"the server on port {self.port} to start", timeout=20)
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 20)


class RedisServer:
    """redis-server in a child process, without persistence, restartable on its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            from conftest import require_service

            require_service("redis-server", "not installed (apt install redis-server)")
        no_files = ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), *no_files],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, f"redis-server on port {self.port} to answer", interval=0.05)

    def _answers(self) -> bool:
        ping = ["redis-cli", "-p", str(self.port), "ping"]
        return subprocess.run(ping, capture_output=True, text=True).stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30, log=None) -> None:
    """Wait until the server child ``proc`` answers ``/health`` at ``url``; fail if it
    stops or takes longer than ``timeout`` seconds, showing its ``log`` file if given."""

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the server for {url} stopped (exit code {proc.returncode})")
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, f"the server at {url} to answer /health", timeout, interval=0.1)
    except AssertionError as exc:
        proc.kill()
        shown = f":\n{log.read_text()}" if log is not None else ""
        raise AssertionError(f"{exc}{shown}") from None


class PasswordPostgres:
    """A private PostgreSQL cluster that checks passwords (scram-sha-256), on a loopback
    port: the machine's own server trusts every local connection, so a wrong password is
    only refused here. Run as the `postgres` user when the tests run as root, as
    PostgreSQL refuses root."""

    USER = "smalltown"

    def __init__(self, password: str) -> None:
        self.password = password
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not binaries:
            from conftest import require_service

            require_service("PostgreSQL server binaries", "initdb is not installed")
        self.bin = binaries[-1].parent
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="smalltown-pg-"))
        if self.run_as:
            shutil.chown(self.folder, self.run_as, self.run_as)
        self.data = self.folder / "data"

    def url(self, password: str | None = None, database: str = "postgres") -> str:
        secret = self.password if password is None else password
        return f"postgresql://{self.USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str | Path) -> None:
        subprocess.run(
            [str(part) for part in command],
            check=True,
            capture_output=True,
            user=self.run_as,
            cwd=self.folder,
        )

    def start(self, timeout: float = 30) -> PasswordPostgres:
        secret = self.folder / "password"
        secret.write_text(self.password)
        if self.run_as:
            shutil.chown(secret, self.run_as, self.run_as)
        if not self.data.exists():
            self._run(
                self.bin / "initdb",
                "--pgdata",
                self.data,
                "--username",
                self.USER,
                "--pwfile",
                secret,
                "--auth",
                "scram-sha-256",
            )
        self.proc = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "server.log", "ab"),  # noqa: SIM115
            user=self.run_as,
        )
        deadline = time.monotonic() + timeout
        while (
            subprocess.run(
                ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            ).returncode
            != 0
        ):
            assert self.proc.poll() is None, (self.folder / "server.log").read_text()
            assert time.monotonic() < deadline, "the private PostgreSQL did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            self.proc.wait(timeout=30)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def call_api(url: str, kind: str, path: str, args: dict, token: str | None = None) -> Any:
    """A function called over Convex's HTTP API (``kind`` is query, mutation or action):
    its value; an AssertionError with the reply when it did not succeed."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{url}/api/{kind}", json={"path": path, "args": args}, headers=headers, timeout=30
    )
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    return body["value"]


async def call_api_async(
    client: httpx.AsyncClient, kind: str, path: str, args: dict, token: str | None = None
) -> Any:
    """:func:`call_api` through an open client whose base URL is the server."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(f"/api/{kind}", json={"path": path, "args": args}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    return body["value"]
