"""``smalltown bench realtime``: how fast a write reaches many live subscribers.

Starts a smalltown server in a child process (on loopback, its own database), opens N
WebSocket subscribers speaking the sync protocol to one query, and drives M mutations a
second that change it. Each subscriber notes when it sees each new value; latency is from
just before the mutation is sent to that moment. Server CPU is read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import websockets

from smalltown.bench.stats import percentile

TICK = "bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Subscriber:
    def __init__(self, url: str, sent: dict[int, float], latencies: list[float]) -> None:
        self._url = url
        self._sent = sent
        self._latencies = latencies
        self.updates = 0
        self.ws = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(self._url, max_queue=None, open_timeout=30)
        await self.ws.send(
            json.dumps(
                {
                    "type": "Connect",
                    "sessionId": os.urandom(8).hex(),
                    "connectionCount": 0,
                    "lastCloseReason": None,
                    "clientTs": 0,
                }
            )
        )
        await self.ws.send(
            json.dumps(
                {
                    "type": "ModifyQuerySet",
                    "baseVersion": 0,
                    "newVersion": 1,
                    "modifications": [
                        {
                            "type": "Add",
                            "queryId": 0,
                            "udfPath": "ticks:latest",
                            "args": [{"name": TICK}],
                        }
                    ],
                }
            )
        )

    async def listen(self) -> None:
        async for raw in self.ws:
            now = time.perf_counter()
            message = json.loads(raw)
            if message["type"] != "Transition":
                continue
            for mod in message["modifications"]:
                value = mod.get("value")
                if mod["type"] == "QueryUpdated" and value:
                    sent = self._sent.get(int(value["n"]))
                    if sent is not None:
                        self._latencies.append((now - sent) * 1000)
                        self.updates += 1


async def run(
    subscribers: int = 1000,
    rate: float = 10.0,
    seconds: float = 20.0,
    database: str | None = None,
    out: Callable[[str], None] = print,
) -> dict[str, float]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as scratch:
        url = database or f"sqlite:///{scratch}/realtime.db"
        env = {
            **os.environ,
            "SMALLTOWN_RATE_LIMIT": "1000000",
            "SMALLTOWN_RATE_BURST": "1000000",
            "SMALLTOWN_MAX_SUBSCRIPTIONS": "10",
        }
        command = [sys.executable, "-m", "smalltown.cli", "run", "--port", str(port)]
        command += ["--database", url, "--app", "smalltown.bench.realtime_app"]
        log_path = Path(scratch) / "server.log"
        with open(log_path, "wb") as log_file:  # a pipe nobody reads would stall the server
            server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            return await _measure(server, port, subscribers, rate, seconds, out, log_path)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


async def _measure(server, port, subscribers, rate, seconds, out, log_path) -> dict[str, float]:
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (await http.get("/health")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log_path.read_text()}")
            await asyncio.sleep(0.1)
        await http.post(
            "/api/mutation", json={"path": "ticks:tick", "args": {"name": TICK, "n": 0}}
        )

        sent: dict[int, float] = {}
        latencies: list[float] = []
        subs = [
            Subscriber(f"ws://127.0.0.1:{port}/api/sync", sent, latencies)
            for _ in range(subscribers)
        ]
        start = time.perf_counter()
        for i in range(0, subscribers, 50):
            await asyncio.gather(*(s.connect() for s in subs[i : i + 50]))
        out(f"{subscribers} subscribers connected in {time.perf_counter() - start:.1f} s")
        listeners = [asyncio.create_task(s.listen()) for s in subs]
        await asyncio.sleep(1.0)

        cpu_before, wall_before = _cpu_seconds(server.pid), time.perf_counter()
        total = int(rate * seconds)
        interval = 1.0 / rate
        t0 = time.perf_counter()
        for n in range(1, total + 1):
            delay = t0 + (n - 1) * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[n] = time.perf_counter()
            await http.post(
                "/api/mutation", json={"path": "ticks:tick", "args": {"name": TICK, "n": float(n)}}
            )
        # Let the last updates arrive.
        expected = total * subscribers
        settle = time.monotonic() + 10
        while len(latencies) < expected and time.monotonic() < settle:
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - wall_before
        cpu = _cpu_seconds(server.pid) - cpu_before
        for task in listeners:
            task.cancel()
        await asyncio.gather(*(s.ws.close() for s in subs), return_exceptions=True)

    figures = {
        "subscribers": subscribers,
        "mutations_per_s": rate,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
        "updates_per_s": len(latencies) / wall,
        "delivered_fraction": len(latencies) / expected if expected else 1.0,
        "server_cpu_percent": 100 * cpu / wall,
    }
    out(
        f"{subscribers} subscribers, {rate:g} mutations/s for {seconds:g} s: "
        f"mutation-to-update latency p50 {figures['latency_p50_ms']:.1f} ms, "
        f"p99 {figures['latency_p99_ms']:.1f} ms; {figures['updates_per_s']:,.0f} updates/s "
        f"delivered ({100 * figures['delivered_fraction']:.1f}% of expected); "
        f"server CPU {figures['server_cpu_percent']:.0f}% of one core"
    )
    return figures
