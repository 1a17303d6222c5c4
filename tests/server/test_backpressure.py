"""A sync client that sends without reading cannot grow the server's memory: its calls
wait in its own socket, its unsent replies are bounded, and past the bound it is cut off.

The assertions read the server's own record (metrics, connection gauge), not the clock.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from smalltown.server import ServerSettings, create_app
from smalltown.server.sync import SyncSettings

from helpers import RunningServer, eventually, free_port, wait_healthy
from hostile import StalledClient, next_message, open_sync, recorded_server_log

BOUND = 64 << 10  # bytes of frames waiting for one connection
CALLS = 8  # mutations and actions waiting or running for one connection


@pytest.fixture
async def server(tmp_path):
    settings = ServerSettings(
        sync=SyncSettings(
            max_outbox_bytes=BOUND,
            max_pending_calls=CALLS,
            # Long enough that the FatalError reliably goes out once the client reads.
            close_grace_seconds=60,
        )
    )
    app = create_app(f"sqlite:///{tmp_path}/flood.db", "example_app", settings)
    async with RunningServer(app) as s:
        yield s


def sample(server, name: str) -> float:
    return server.app.state.metrics.registry.get_sample_value(name) or 0.0


@pytest.mark.timeout(120)
async def test_a_client_that_floods_without_reading_is_cut_off_within_the_bound(server):
    with recorded_server_log() as log:
        client = await StalledClient.connect("127.0.0.1", server.port)
        client.send({"type": "Connect", "sessionId": "flood", "connectionCount": 0})
        client.transport.pause_reading()
        frames = 20_000
        for n in range(frames):
            kind = "Action" if n % 4 == 3 else "Mutation"
            path = "values:shout" if kind == "Action" else "values:noop"
            args = [{"channel": "c"}] if kind == "Action" else [{}]
            client.send({"type": kind, "requestId": n, "udfPath": path, "args": args})

        await eventually(lambda: sample(server, "smalltown_sync_cut_off_total") == 1, 60)
        client.transport.resume_reading()
        await asyncio.wait_for(client.closed, 60)
        await eventually(lambda: sample(server, "smalltown_sync_connections") == 0, 60)

    metrics = server.app.state.metrics
    assert BOUND // 2 < metrics.outbox_peak_bytes <= BOUND, metrics.outbox_peak_bytes
    assert metrics.calls_peak <= CALLS
    assert client.frames[-1]["type"] == "FatalError"
    assert "did not read" in client.frames[-1]["error"]
    replies = [f for f in client.frames if f["type"] in ("MutationResponse", "ActionResponse")]
    assert len(replies) < frames  # cut off, not served to the end
    assert log.failures() == []
    assert any("cutting off" in r.getMessage() for r in log.records)

    # The server goes on serving others.
    other = await open_sync(server.ws_url, session="after")
    await other.send('{"type": "Mutation", "requestId": 0, "udfPath": "values:noop"}')
    assert (await next_message(other, "MutationResponse"))["success"] is True
    await other.close()


@pytest.mark.timeout(120)
async def test_a_slow_subscriber_gets_fewer_newer_transitions_not_a_cut(server):
    """Updates waiting for a client that reads slowly merge into one Transition per query's
    latest value, so a live query that changes often never fills the bound."""
    client = await StalledClient.connect("127.0.0.1", server.port)
    client.send({"type": "Connect", "sessionId": "slow", "connectionCount": 0})
    add = {"type": "Add", "queryId": 0, "udfPath": "messages:list", "args": [{"channel": "c"}]}
    client.send(
        {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [add]}
    )
    await eventually(lambda: any(f["type"] == "Transition" for f in client.frames))
    client.transport.pause_reading()
    body = "x" * 1000
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for n in range(150):  # 50 KB an update by the end: 7 MB unmerged
            args = {"channel": "c", "author": "a", "body": f"{n}:{body}"}
            reply = await http.post(
                "/api/mutation",
                json={"path": "messages:send", "args": args},
                headers={"Authorization": f"Convex {server.app.state.runtime.auth.admin_key}"},
            )
            assert reply.json()["status"] == "success"
    client.transport.resume_reading()

    def latest_count() -> int:
        values = [
            m["value"]
            for f in client.frames
            if f["type"] == "Transition"
            for m in f["modifications"]
            if m["type"] == "QueryUpdated"
        ]
        return len(values[-1]) if values else 0

    await eventually(lambda: latest_count() == 50, 60)  # messages:list shows the last 50
    assert sample(server, "smalltown_sync_cut_off_total") == 0
    version = None
    for frame in client.frames:
        if frame["type"] == "Transition":
            assert version is None or frame["startVersion"] == version, "broken chain"
            version = frame["endVersion"]
    client.transport.close()


SOAK = os.environ.get("SMALLTOWN_SOAK", "") not in ("", "0")
SOAK_FRAMES = 200_000
SOAK_SOCKETS = 2
SOAK_ROUNDS = 3
TESTS = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(
    not SOAK, reason="an on-demand probe (a minute or two of CPU): set SMALLTOWN_SOAK=1 to run"
)
@pytest.mark.timeout(900)
async def test_soak_floods_of_200000_frames_leave_the_server_memory_flat(tmp_path):
    """``smalltown run`` in a child process; two sockets each send 200,000 Mutation frames
    and read nothing. The server's RSS stays within 50 MB of where it started, and comes
    back near it once the sockets are gone."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    env = {
        **os.environ,
        "SMALLTOWN_APP": "example_app",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    database = f"sqlite:///{tmp_path}/soak.db"
    command = ["smalltown.cli", "run", "--port", str(port), "--database", database]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_healthy(url, proc, log=log_path)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def metric(name: str) -> float:
                text = (await http.get("/metrics")).text
                for line in text.splitlines():
                    if line.startswith(name + " "):
                        return float(line.split()[1])
                return 0.0

            # Warm up every path the flood takes, then take the baseline.
            warm = await open_sync(f"ws://127.0.0.1:{port}", session="warm")
            for n in range(300):
                await warm.send(
                    json.dumps({"type": "Mutation", "requestId": n, "udfPath": "values:noop"})
                )
            await next_message(warm, "MutationResponse")
            await warm.close()

            async def idle() -> bool:
                return await metric("smalltown_sync_connections") == 0

            await eventually(idle)
            baseline = rss_mb(proc.pid)

            rounds = []
            for _ in range(SOAK_ROUNDS):
                cut_before = await metric("smalltown_sync_cut_off_total")
                clients = []
                for s in range(SOAK_SOCKETS):
                    client = await StalledClient.connect("127.0.0.1", port)
                    client.send({"type": "Connect", "sessionId": f"f{s}", "connectionCount": 0})
                    client.transport.pause_reading()
                    clients.append(client)
                for n in range(SOAK_FRAMES):
                    for client in clients:
                        client.send(
                            f'{{"type":"Mutation","requestId":{n},"udfPath":"values:noop",'
                            '"args":[{}]}'
                        )
                peak = rss_mb(proc.pid)
                deadline = time.monotonic() + 300
                while await metric("smalltown_sync_cut_off_total") < cut_before + SOAK_SOCKETS:
                    peak = max(peak, rss_mb(proc.pid))
                    assert time.monotonic() < deadline, "the server did not cut the floods off"
                    await asyncio.sleep(0.2)
                peak = max(peak, rss_mb(proc.pid))
                for client in clients:
                    client.transport.abort()
                await eventually(idle, 60)
                rounds.append((peak, rss_mb(proc.pid)))
            outbox_peak = await metric("smalltown_sync_outbox_peak_bytes")
        shown = "; ".join(
            f"peak {peak:.0f} MB (+{peak - baseline:.0f}), after close {after:.0f} MB "
            f"(+{after - baseline:.0f})"
            for peak, after in rounds
        )
        print(
            f"\nRSS baseline {baseline:.0f} MB; {shown}; outbox peak {outbox_peak / 2**20:.1f} MiB"
        )
        for peak, after in rounds:
            assert peak - baseline <= 50, (baseline, rounds)
            assert after - baseline <= 25, (baseline, rounds)
        # What a flood took is reused by the next one, not kept for good.
        assert rounds[-1][1] - rounds[0][1] <= 5, rounds
        assert "Traceback" not in log_path.read_text()
    finally:
        proc.kill()
        proc.wait()
