"""A server stops promptly on SIGTERM whatever it is doing: live sync sockets with
subscriptions, an idle HTTP connection, its world stepping and agents' operations stuck
on an LLM that does not answer. Each of these used to be able to hold the stop (uvicorn
waits for open connections and tasks; a task that swallows its cancellation keeps the
loop alive): the stop is bounded, and the process ends as SIGTERM ends a process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

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
            # (uvicorn raises the signal again once stopped: the exit says SIGTERM ended it)
            assert code in (0, -signal.SIGTERM), log.read_text()[-3000:]
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
