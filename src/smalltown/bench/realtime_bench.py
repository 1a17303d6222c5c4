"""``smalltown bench realtime``: how fast a write reaches many live subscribers.

Starts a smalltown server in a child process (on loopback, its own database), opens N
WebSocket subscribers speaking the sync protocol to one query, spread over client
processes, and drives M mutations a second that change it. Each mutation carries the time
it was sent (the system's monotonic clock, shared by every process on the machine); each
subscriber notes when the new value arrives. Server CPU is read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
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


def _now_ms() -> float:
    return time.monotonic() * 1000


async def _subscribe(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url, max_queue=None, open_timeout=60)
    connect = {
        "type": "Connect",
        "sessionId": os.urandom(8).hex(),
        "connectionCount": 0,
        "lastCloseReason": None,
        "clientTs": 0,
    }
    add = {
        "type": "ModifyQuerySet",
        "baseVersion": 0,
        "newVersion": 1,
        "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "ticks:latest", "args": [{"name": TICK}]}
        ],
    }
    await ws.send(json.dumps(connect))
    await ws.send(json.dumps(add))
    return ws


async def _listen(ws, latencies: list[float]) -> None:
    async for raw in ws:
        received = _now_ms()
        message = json.loads(raw)
        if message["type"] != "Transition":
            continue
        for mod in message["modifications"]:
            value = mod.get("value")
            if mod["type"] == "QueryUpdated" and value and value.get("sentAt"):
                latencies.append(received - value["sentAt"])


def _client_process(url: str, count: int, ready, go, results, seconds: float) -> None:
    """One client process: ``count`` subscribers; sends back every latency it saw."""

    async def main() -> list[float]:
        sockets = []
        for i in range(0, count, 50):
            sockets += await asyncio.gather(*(_subscribe(url) for _ in range(min(50, count - i))))
        latencies: list[float] = []
        tasks = [asyncio.create_task(_listen(ws, latencies)) for ws in sockets]
        ready.set()
        await asyncio.to_thread(go.wait)
        await asyncio.sleep(seconds + 5)  # the run, then time for the last updates
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return latencies

    results.put(asyncio.run(main()))


async def run(
    subscribers: int = 1000,
    rate: float = 10.0,
    seconds: float = 20.0,
    database: str | None = None,
    client_processes: int = 2,
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
            return await _measure(
                server, port, subscribers, rate, seconds, client_processes, out, log_path
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


async def _measure(server, port, subscribers, rate, seconds, processes, out, log_path):
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

        spawn = multiprocessing.get_context("spawn")
        go, results = spawn.Event(), spawn.Queue()
        shares = [
            subscribers // processes + (i < subscribers % processes) for i in range(processes)
        ]
        workers, readies = [], []
        started = time.perf_counter()
        for share in shares:
            ready = spawn.Event()
            worker = spawn.Process(
                target=_client_process,
                args=(f"ws://127.0.0.1:{port}/api/sync", share, ready, go, results, seconds),
                daemon=True,
            )
            worker.start()
            workers.append(worker)
            readies.append(ready)
        for ready in readies:
            if not await asyncio.to_thread(ready.wait, 120):
                raise RuntimeError("client processes did not connect in 120 s")
        out(
            f"{subscribers} subscribers connected in {time.perf_counter() - started:.1f} s "
            f"from {processes} client processes"
        )
        await asyncio.sleep(1.0)

        cpu_before, wall_before = _cpu_seconds(server.pid), time.perf_counter()
        go.set()
        total = int(rate * seconds)
        t0 = time.perf_counter()
        for n in range(1, total + 1):
            delay = t0 + (n - 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            args = {"name": TICK, "n": float(n), "sentAt": _now_ms()}
            await http.post("/api/mutation", json={"path": "ticks:tick", "args": args})
        wall = time.perf_counter() - wall_before
        cpu = _cpu_seconds(server.pid) - cpu_before
        latencies: list[float] = []
        for _ in workers:
            latencies += await asyncio.to_thread(results.get, True, seconds + 120)
        for worker in workers:
            worker.join(timeout=10)

    expected = total * subscribers
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
