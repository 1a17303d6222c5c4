"""Several servers on one PostgreSQL database: a change made through one reaches the live
queries of every other, through a real Redis (a private redis-server on a loopback port)."""

import shutil
import subprocess
import time

import pytest
from test_sync import Client

from smalltown.runtime.redis_invalidator import decode, encode
from smalltown.server import ServerSettings, create_app
from smalltown.store import Write

from conftest import require_service
from helpers import RunningServer, free_port


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
            require_service("redis-server", "not installed (apt install redis-server)")
        no_files = ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), *no_files],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            assert time.monotonic() < deadline, "redis-server did not start in 10 s"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def _app(url, redis_url):
    return create_app(url, "example_app", ServerSettings(redis_url=redis_url))


async def _watch(server, channel):
    client = await Client.connect(server)
    await client.add(1, "messages:list", {"channel": channel})
    return client


async def test_a_change_through_one_server_reaches_the_live_queries_of_another(
    postgres_url, redis_server
):
    async with (
        RunningServer(_app(postgres_url, redis_server.url)) as a,
        RunningServer(_app(postgres_url, redis_server.url)) as b,
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
        redis_server.stop()  # a commit made now reaches no one...
        writer = await Client.connect(a, session="writer")
        assert (
            await writer.mutate(
                "messages:send", {"channel": "town", "author": "x", "body": "lost?"}
            )
        )["success"]
        redis_server.start()  # ...but once Redis is back, b re-runs its live queries
        await on_b.wait_for(1, [{"author": "x", "body": "lost?"}], timeout=30)
        assert "lost Redis" in caplog.text and "re-running every live query" in caplog.text
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
