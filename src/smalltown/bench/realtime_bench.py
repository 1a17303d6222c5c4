"""``smalltown bench realtime``: how fast a write reaches many live subscribers.

Starts a smalltown server in a child process (on loopback, its own database), opens N
WebSocket subscribers speaking the sync protocol to one query, spread over client
processes, and drives M mutations a second that change it. With ``--redis URL``, two
servers share the database through that Redis: the mutations go to one and the
subscribers listen on the other, so every update crosses from process to process.

Each mutation carries the time it was sent (the system's monotonic clock, shared by every
process on the machine); each subscriber notes when the new value arrives. Server CPU is
read from /proc.
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


def _connect_messages() -> list[str]:
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
    return [json.dumps(connect), json.dumps(add)]


class _Subscriber(asyncio.Protocol):
    """One subscriber: the websockets library's sans-I/O client on a bare transport.

    The measuring side has to keep up with a thousand sockets on the same cores as the
    server, so each frame costs only the protocol's parsing and the note of its arrival
    time (taken as the bytes arrive, before any decoding)."""

    def __init__(self, url: str, latencies: list[float], opened: asyncio.Future) -> None:
        from websockets.client import ClientProtocol
        from websockets.frames import Frame
        from websockets.uri import parse_uri

        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self._frame = Frame  # (websockets is imported only when a bench runs)
        self.latencies = latencies
        self.opened = opened
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        received = _now_ms()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if not isinstance(event, self._frame):  # the handshake's response
                if not self.opened.done():
                    for text in _connect_messages():
                        self.protocol.send_text(text.encode())
                    self.opened.set_result(None)
                continue
            payload = bytes(event.data)  # (bytes already: no copy)
            if b'"sentAt"' not in payload:
                continue
            message = json.loads(payload)
            for mod in message.get("modifications", ()):
                value = mod.get("value")
                if mod.get("type") == "QueryUpdated" and value and value.get("sentAt"):
                    self.latencies.append(received - value["sentAt"])
        self._flush()  # pongs and the like

    def _flush(self) -> None:
        data = self.protocol.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(data))

    def connection_lost(self, exc) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _subscribe(url: str, latencies: list[float]) -> _Subscriber:
    loop = asyncio.get_running_loop()
    opened = loop.create_future()
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    _, subscriber = await loop.create_connection(
        lambda: _Subscriber(url, latencies, opened), host, int(port)
    )
    await asyncio.wait_for(opened, 60)
    return subscriber


def _client_process(url: str, count: int, ready, go, results, seconds: float) -> None:
    """One client process: ``count`` subscribers; sends back every latency it saw."""

    async def main() -> list[float]:
        latencies: list[float] = []
        sockets = []
        for i in range(0, count, 50):
            batch = min(50, count - i)
            sockets += await asyncio.gather(*(_subscribe(url, latencies) for _ in range(batch)))
        ready.set()
        await asyncio.to_thread(go.wait)
        await asyncio.sleep(seconds + 5)  # the run, then time for the last updates
        for subscriber in sockets:
            subscriber.close()
        return latencies

    try:
        import uvloop
    except ImportError:
        results.put(asyncio.run(main()))
    else:
        results.put(uvloop.run(main()))


async def run(
    subscribers: int = 1000,
    rate: float = 10.0,
    seconds: float = 20.0,
    database: str | None = None,
    client_processes: int = 2,
    out: Callable[[str], None] = print,
    redis: str | None = None,
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        url = database or f"sqlite:///{scratch}/realtime.db"
        env = {
            **os.environ,
            "SMALLTOWN_RATE_LIMIT": "1000000",
            "SMALLTOWN_RATE_BURST": "1000000",
            "SMALLTOWN_MAX_SUBSCRIPTIONS": "10",
            **({"SMALLTOWN_REDIS_URL": redis} if redis else {}),
        }
        servers: list[tuple[subprocess.Popen, int, Path]] = []
        try:
            for n in range(2 if redis else 1):
                port = _free_port()
                command = [sys.executable, "-m", "smalltown.cli", "run", "--port", str(port)]
                command += ["--database", url, "--app", "smalltown.bench.realtime_app"]
                log_path = Path(scratch) / f"server-{n}.log"
                with open(log_path, "wb") as log:  # a pipe nobody reads would stall the server
                    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
                servers.append((proc, port, log_path))
                await _started(proc, port, log_path)
            if redis:
                out("two servers share the database through Redis: updates cross processes")
            return await _measure(servers, subscribers, rate, seconds, client_processes, out)
        finally:
            for proc, _, _ in servers:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


async def _started(server: subprocess.Popen, port: int, log_path: Path) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log_path.read_text()}")
            await asyncio.sleep(0.1)


async def _measure(servers, subscribers, rate, seconds, processes, out):
    """Mutations go to the first server; subscribers listen on the last (the same one,
    without Redis)."""
    port, listen_port = servers[0][1], servers[-1][1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
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
                args=(
                    f"ws://127.0.0.1:{listen_port}/api/sync",
                    share,
                    ready,
                    go,
                    results,
                    seconds,
                ),
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

        pids = [proc.pid for proc, _, _ in servers]
        cpu_before, wall_before = sum(map(_cpu_seconds, pids)), time.perf_counter()
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
        cpu = sum(map(_cpu_seconds, pids)) - cpu_before
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
        + (" (both servers)" if len(servers) > 1 else "")
    )
    return figures
