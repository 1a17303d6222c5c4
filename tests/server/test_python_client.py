"""The official Convex Python client (PyPI `convex`, a Rust core over WebSocket) against
smalltown. Its calls block without releasing the GIL, so the server runs in a process of
its own, started through the CLI."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import convex
import pytest
from convex.http_client import ConvexHttpClient

from helpers import free_port, wait_healthy

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def server_url(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smalltown.cli",
            "run",
            "--port",
            str(port),
            "--database",
            f"sqlite:///{tmp_path}/py.db",
            "--app",
            "example_app",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log=tmp_path / "server.log")
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.mark.timeout(90)
def test_python_client_queries_mutates_and_subscribes(server_url):
    client = convex.ConvexClient(server_url)
    id = client.mutation("messages:send", {"channel": "py", "author": "ada", "body": "hello"})
    assert isinstance(id, str) and len(id) == 32
    # The Python client sends every int as a float: 5 arrives as 5.0, a Convex number.
    assert client.query("messages:list", {"channel": "py", "limit": 5}) == [
        {"author": "ada", "body": "hello"}
    ]
    with pytest.raises(convex.ConvexError) as info:
        client.mutation("messages:send", {"channel": "py", "author": "a", "body": " "})
    assert info.value.data == {"code": "empty", "message": "say something"}

    subscription = client.subscribe("messages:list", {"channel": "py"})
    assert next(subscription) == [{"author": "ada", "body": "hello"}]
    writer = convex.ConvexClient(server_url)
    threading.Thread(
        target=lambda: writer.mutation(
            "messages:send", {"channel": "py", "author": "bob", "body": "hi"}
        ),
        daemon=True,
    ).start()
    assert next(subscription)[-1] == {"author": "bob", "body": "hi"}
    assert client.action("values:shout", {"channel": "py"}) == 3.0

    http = ConvexHttpClient(server_url)
    assert http.query("messages:count", {"channel": "py"}) == 3.0
