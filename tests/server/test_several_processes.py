"""Several servers on one database: a change made through one reaches the live queries of
every other, through a real Redis (a private redis-server on a loopback port)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_sync import Client

from smalltown.runtime.redis_invalidator import decode, encode
from smalltown.server import ServerSettings, create_app
from smalltown.store import Write

from helpers import RunningServer, eventually, free_port, wait_for, wait_healthy


async def _health(server):
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{server.url}/health", timeout=10)).json()


async def _health_until(server, predicate, what, timeout=20):
    async def matching():
        health = await _health(server)
        return health if predicate(health) else None

    return await eventually(matching, f"/health of {server.url} to say {what}", timeout, 0.1)


def _app(url, redis_url):
    return create_app(url, "example_app", ServerSettings(redis_url=redis_url))


async def _watch(server, channel):
    client = await Client.connect(server)
    await client.add(1, "messages:list", {"channel": channel})
    return client


async def test_a_change_through_one_server_reaches_the_live_queries_of_another(
    store_url, redis_server
):
    async with (
        RunningServer(_app(store_url, redis_server.url)) as a,
        RunningServer(_app(store_url, redis_server.url)) as b,
    ):
        on_a, on_b = await _watch(a, "town"), await _watch(b, "town")
        writer = await Client.connect(a, session="writer")
        response = await writer.mutate(
            "messages:send", {"channel": "town", "author": "ada", "body": "hello"}
        )
        assert response["success"]
        await on_b.wait_for(1, [{"author": "ada", "body": "hello"}])  # through Redis
        await on_a.wait_for(1, [{"author": "ada", "body": "hello"}])  # its own commit

        # The other way, and a mutation's Transition still waits for its own commit.
        writer_b = await Client.connect(b, session="writer-b")
        assert (
            await writer_b.mutate(
                "messages:send", {"channel": "town", "author": "bo", "body": "hi"}
            )
        )["success"]
        await on_a.wait_for(1, [{"author": "ada", "body": "hello"}, {"author": "bo", "body": "hi"}])
        assert b.app.state.subscriptions.invalidator.received >= 1
        for client in (on_a, on_b, writer, writer_b):
            await client.ws.close()


async def test_after_redis_comes_back_every_live_query_catches_up(
    postgres_url, redis_server, caplog
):
    async with (
        RunningServer(_app(postgres_url, redis_server.url)) as a,
        RunningServer(_app(postgres_url, redis_server.url)) as b,
    ):
        on_b = await _watch(b, "town")
        await on_b.wait_for(1, [])
        assert (await _health(b))["redis"]["listening"]
        redis_server.stop()  # a commit made now reaches no one...
        lost = await _health_until(b, lambda h: h["status"] == "degraded", "degraded")
        assert not lost["redis"]["listening"] and "Redis does not answer" in lost["redis"]["error"]
        writer = await Client.connect(a, session="writer")
        assert (
            await writer.mutate(
                "messages:send", {"channel": "town", "author": "x", "body": "lost?"}
            )
        )["success"]
        redis_server.start()  # ...but once Redis is back, b re-runs its live queries
        await on_b.wait_for(1, [{"author": "x", "body": "lost?"}], timeout=30)
        assert "lost Redis" in caplog.text and "re-running every live query" in caplog.text
        back = await _health_until(b, lambda h: h["status"] == "ok", "ok")
        assert back["redis"]["listening"] and "redis://127.0.0.1" in back["redis"]["url"]
        for client in (on_b, writer):
            await client.ws.close()


async def test_a_server_with_no_redis_refuses_to_start_and_says_why(tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = _app(f"sqlite:///{tmp_path}/x.db", dead)
    with pytest.raises(ConnectionError, match="does not answer: start it, or unset"):
        async with app.router.lifespan_context(app):
            pass


def test_commits_cross_as_json_exactly_and_anything_else_is_refused():
    writes = (
        Write("messages", "id1", None, {"by_id": b"\x00\xff", "by_channel": b"k\x01"}),
        Write("messages", "id2", {"by_id": b"\x02"}, None),
    )
    assert decode(encode("me", 2**62, writes)) == ("me", 2**62, writes)
    for bad in (
        b"not json",
        b"[]",
        b'{"origin": "o", "ts": "1", "writes": []}',
        b'{"origin": "o", "ts": true, "writes": []}',
        b'{"origin": "o", "ts": 1, "writes": [["t", "i", {"k": "not base64!"}, null]]}',
        b'{"origin": "o", "ts": 1, "writes": [["t", 5, null, null]]}',
        b'{"origin": "o", "ts": 1, "writes": [["t", "i", null]]}',
        b'{"origin": "o", "ts": 1}',
    ):
        with pytest.raises((ValueError, TypeError, KeyError)):
            decode(bad)


TESTS = Path(__file__).resolve().parents[1]


class ServerProcess:
    """``smalltown run`` in a child process of its own, as it is deployed."""

    def __init__(self, tmp_path, database, redis_url, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = tmp_path / f"server-{self.port}.log"
        log = open(self.log, "wb")  # noqa: SIM115
        env = {
            **os.environ,
            "SMALLTOWN_APP": app,
            "SMALLTOWN_REDIS_URL": redis_url,
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        }
        command = ["smalltown.cli", "run", "--port", str(self.port), "--database", database]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        wait_healthy(self.url, self.proc, log=self.log)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def processes(tmp_path):
    started = []

    def start(database, redis_url, app="example_app"):
        started.append(ServerProcess(tmp_path, database, redis_url, app))
        return started[-1]

    yield start
    for server in started:
        server.kill()


async def test_two_server_processes_share_live_queries(postgres_url, redis_server, processes):
    a, b = processes(postgres_url, redis_server.url), processes(postgres_url, redis_server.url)
    on_b = await _watch(b, "square")
    await on_b.wait_for(1, [])
    sent = httpx.post(
        f"{a.url}/api/mutation",
        json={"path": "messages:send", "args": {"channel": "square", "author": "a", "body": "hi"}},
        timeout=10,
    ).json()
    assert sent["status"] == "success", sent
    await on_b.wait_for(1, [{"author": "a", "body": "hi"}])
    await on_b.ws.close()


def _engine_time(url):
    body = httpx.post(
        f"{url}/api/query", json={"path": "world:defaultWorldStatus", "args": {}}, timeout=10
    ).json()
    assert body["status"] == "success", body
    status = body["value"]
    engine = httpx.post(
        f"{url}/api/query",
        json={"path": "world:worldState", "args": {"worldId": status["worldId"]}},
        timeout=10,
    ).json()
    assert engine["status"] == "success", engine
    return engine["value"]["engine"]["currentTime"]


def _advancing(url, timeout):
    """Wait until the default world's engine clock, as ``url`` shows it, moves on."""
    start = _engine_time(url)
    wait_for(lambda: _engine_time(url) > start, f"the engine clock at {url} to move", timeout, 0.2)


def test_a_world_whose_process_is_killed_is_taken_over(postgres_url, redis_server, processes):
    first = processes(postgres_url, redis_server.url, app="smalltown.town")
    _advancing(first.url, 20)  # the first process holds the default world's lease
    second = processes(postgres_url, redis_server.url, app="smalltown.town")
    _advancing(second.url, 20)  # stepped by the first; seen from the second
    first.kill()
    _advancing(second.url, 30)  # the lease runs out and the second takes over
    assert "taken over from a runner that stopped" in second.log.read_text()


async def test_the_realtime_bench_across_two_processes_delivers_every_update(redis_server):
    from smalltown.bench import realtime_bench

    lines = []
    figures = await realtime_bench.run(
        subscribers=10,
        rate=5,
        seconds=2,
        client_processes=1,
        out=lines.append,
        redis=redis_server.url,
    )
    assert figures["delivered_fraction"] == 1.0
    assert figures["latency_p50_ms"] > 0
    assert any("updates cross processes" in line for line in lines)


async def test_the_redis_password_never_shows_in_messages(tmp_path):
    app = _app(f"sqlite:///{tmp_path}/x.db", f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    with pytest.raises(ConnectionError) as refused:
        async with app.router.lifespan_context(app):
            pass
    assert "s3cret" not in str(refused.value) and "***" in str(refused.value)
