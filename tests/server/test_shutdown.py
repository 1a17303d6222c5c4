"""A server stops promptly on SIGTERM whatever it is doing: live sync sockets with
subscriptions, an idle HTTP connection, its world stepping and agents' operations stuck
on an LLM that does not answer. Each of these used to be able to hold the stop (uvicorn
waits for open connections and tasks; a task that swallows its cancellation keeps the
loop alive): the stop is bounded, and the process exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets
from test_sync import Client

from fake_llm import FakeLLM, FakeLLMServer

from helpers import eventually, free_port, wait_healthy

#: what the stop may take on a loaded machine (2 s for open connections, then each
#: part stops its tasks, giving up on those that go on after 3 s)
STOP_BOUND = 10.0


class Url:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"


@pytest.mark.timeout(120)
async def test_sigterm_stops_a_busy_server_promptly(tmp_path, postgres_url):
    fake = FakeLLM()
    fake.hang_seconds = 600  # every chat request hangs: agents' operations stay in flight
    fake.fail("timeout", times=10_000)
    async with FakeLLMServer(fake) as llm:
        port = free_port()
        log = tmp_path / "server.log"
        env = {
            **os.environ,
            "SMALLTOWN_APP": "smalltown.town",
            "SMALLTOWN_EMBEDDINGS": "hashed",
            "SMALLTOWN_TIME_SCALE": "20",  # residents meet and talk soon
            "LLM_API_URL": f"{llm.url}/v1",
            "LLM_MODEL": "chatty",
        }
        command = ["smalltown.cli", "run", "--port", str(port), "--database", postgres_url]
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", *command], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        try:
            server = Url(port)
            await asyncio.to_thread(wait_healthy, server.url, proc, 30, log)
            watchers = []
            for n in range(3):  # live queries on sync sockets
                client = await Client.connect(server, session=f"watcher-{n}")
                await client.add(1, "world:defaultWorldStatus", {})
                watchers.append(client)
            idle = socket.create_connection(("127.0.0.1", port))  # an HTTP request half sent
            idle.sendall(b"POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            await eventually(lambda: fake.in_flight >= 1, "an LLM request in flight", 60, 0.1)

            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)
            took = time.monotonic() - started
            assert code == 0, log.read_text()[-3000:]
            print(f"\nstopped in {took:.1f} s")
            assert took < STOP_BOUND, f"the stop took {took:.1f} s:\n{log.read_text()[-3000:]}"
            for client in watchers:  # told the server is going, not left hanging
                with pytest.raises(websockets.ConnectionClosed):
                    while True:
                        await client.receive(timeout=10)
            idle.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


TESTS = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_server_whose_task_swallows_every_cancel_stops_all_the_same(tmp_path, sig):
    """Ctrl-C used to hang it for ever: the event loop's last wait for its tasks (after
    uvicorn raised the signal again) has no end. Now the stop leaves the task behind,
    says so, and the process exits 0."""
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "SMALLTOWN_APP": "stubborn_app",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        "smalltown.cli",
        "run",
        "--port",
        str(port),
        "--database",
        f"sqlite:///{tmp_path}/x.db",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *command], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, 30, log)
        started = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        took = time.monotonic() - started
        assert took < STOP_BOUND, f"the stop took {took:.1f} s:\n{log.read_text()[-3000:]}"
        assert code == 0, log.read_text()[-3000:]
        assert "the server's stop: 1 task(s) did not stop" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
