"""The Redis invalidator's own logic, over an in-memory pub/sub: reconnecting, the bounded
queue of commits waiting to be published, re-running every live query once Redis is
back, what /health is told, and the password kept out of sight. (Real Redis, across real
processes: tests/server/test_several_processes.py.)"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from smalltown.runtime import redis_invalidator
from smalltown.runtime.redis_invalidator import RedisInvalidator, database_channel, decode, encode
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import Store, Write, open_store

from example_app.schema import schema
from helpers import eventually

SCHEMA = with_system_tables(schema)
SECRET = "s3cret"
URL = f"redis://:{SECRET}@127.0.0.1:6379/0"
SHOWN = "redis://:***@127.0.0.1:6379/0"
_CUT = object()  # put in a subscriber's queue: its connection is gone


class MemoryRedis:
    """Redis pub/sub in memory, for these unit tests alone. Like a server it can stop
    (calls are refused and subscribers cut off) and start again; it can also refuse the
    next few publishes only, or hold publishes (a network that delivers nothing, where a
    client waits) until it starts again."""

    def __init__(self) -> None:
        self.state = "up"  # or "stopped", "holding"
        self.subscribers: dict[str, list[asyncio.Queue]] = defaultdict(list)
        self.published: list[tuple[str, bytes]] = []
        self.refuse_publishes = 0
        self.refused = 0  # calls refused so far
        self.held = 0  # publishes waiting now
        self.urls: list[str] = []  # what clients were made from
        self.closed = 0  # clients closed
        self._up = asyncio.Event()
        self._up.set()

    def connect(self, url: str) -> MemoryClient:
        self.urls.append(url)
        return MemoryClient(self)

    def stop(self) -> None:
        self.state = "stopped"
        self._up.clear()
        for queues in self.subscribers.values():
            for queue in queues:
                queue.put_nowait(_CUT)
        self.subscribers.clear()

    def hold(self) -> None:
        self.state = "holding"
        self._up.clear()

    def start(self) -> None:
        self.state = "up"
        self._up.set()

    def refuse(self) -> None:
        self.refused += 1
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def commits(self) -> list[tuple[str, int, tuple[Write, ...]]]:
        return [decode(data) for _, data in self.published]


class MemoryClient:
    """The part of ``redis.asyncio.Redis`` the invalidator uses."""

    def __init__(self, server: MemoryRedis) -> None:
        self._server = server

    async def publish(self, channel: str, message: bytes) -> int:
        server = self._server
        if server.refuse_publishes:
            server.refuse_publishes -= 1
            server.refuse()
        if server.state == "stopped":
            server.refuse()
        if server.state == "holding":
            server.held += 1
            try:
                await server._up.wait()
            finally:
                server.held -= 1
        server.published.append((channel, message))
        queues = server.subscribers.get(channel, [])
        for queue in queues:
            queue.put_nowait({"type": "message", "channel": channel.encode(), "data": message})
        return len(queues)

    def pubsub(self) -> MemoryPubSub:
        return MemoryPubSub(self._server)

    async def aclose(self) -> None:
        self._server.closed += 1


class MemoryPubSub:
    def __init__(self, server: MemoryRedis) -> None:
        self._server = server
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    async def __aenter__(self) -> MemoryPubSub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for queues in self._server.subscribers.values():
            if self._queue in queues:
                queues.remove(self._queue)

    async def subscribe(self, channel: str) -> None:
        if self._server.state == "stopped":
            self._server.refuse()
        self._server.subscribers[channel].append(self._queue)
        self._queue.put_nowait({"type": "subscribe", "channel": channel.encode(), "data": 1})

    async def listen(self):
        while True:
            message = await self._queue.get()
            if message is _CUT:
                raise RedisConnectionError("Connection closed by server.")
            yield message


class Process:
    """One process's side: its store on the shared database, its invalidator, and what
    the invalidator handed to its live queries."""

    def __init__(self, store: Store, redis: MemoryRedis, channel: str | None = None) -> None:
        self.store = store
        self.invalidator = RedisInvalidator(URL, channel, connect=redis.connect)
        self.delivered: list[tuple[int, tuple[Write, ...]]] = []
        self.resyncs = 0
        self.invalidator.attach(store, self._deliver, self._resync)

    def _deliver(self, ts: int, writes: tuple[Write, ...]) -> None:
        self.delivered.append((ts, writes))

    def _resync(self) -> None:
        self.resyncs += 1

    async def commit(self, body: str = "hi") -> tuple[int, tuple[Write, ...]]:
        """A message sent; its commit (timestamp and writes)."""
        args = {"channel": "town", "author": "ada", "body": body}
        done = await self.store.transact(lambda tx: tx.insert("messages", args))
        return done.ts, done.writes


@pytest.fixture
def redis() -> MemoryRedis:
    return MemoryRedis()


@pytest.fixture
async def stores(tmp_path):
    """Open stores (closed at the end) on the database ``name``: one per process."""
    opened: list[Store] = []

    async def open_one(name: str = "shared") -> Store:
        opened.append(await open_store(f"sqlite:///{tmp_path}/{name}.db", SCHEMA))
        return opened[-1]

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
async def processes(redis, stores):
    started: list[Process] = []

    async def start(name: str = "shared") -> Process:
        store = await stores(name)
        await database_channel(store)  # made now, so its commit is not among the test's
        started.append(Process(store, redis))
        await started[-1].invalidator.wait_listening()
        return started[-1]

    yield start
    for process in started:
        await process.invalidator.close()


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(redis_invalidator, "RETRY_SECONDS", (0.001,) * 5)


async def test_own_commits_go_to_the_live_queries_at_once_and_out_to_the_others(processes, redis):
    a = await processes()
    made = await a.commit()
    assert a.delivered == [made]  # before Redis is even asked
    await eventually(lambda: redis.published, "the commit to be published")
    ((channel, _),) = redis.published
    assert channel == await database_channel(a.store)
    ((_, ts, writes),) = redis.commits()
    assert (ts, writes) == made


async def test_another_processs_commits_arrive_and_move_this_ones_clock_on(processes, redis):
    a, b = await processes(), await processes()
    made = await a.commit("from a")
    await eventually(lambda: b.delivered, "a's commit to reach b")
    assert b.delivered == [made] and b.invalidator.received == 1
    made_by_b = await b.commit("from b")
    await eventually(lambda: len(a.delivered) == 2, "b's commit to reach a")
    # a heard its own commit come back first, and let it pass: it was delivered once.
    assert a.delivered == [made, made_by_b] and a.invalidator.received == 1

    later = made_by_b[0] + 10**12  # a clock far ahead, elsewhere
    await MemoryClient(redis).publish(channel := await database_channel(a.store), b"x")
    await MemoryClient(redis).publish(channel, encode("elsewhere", later, made[1]))
    await eventually(lambda: len(b.delivered) == 3, "the far commit to arrive")  # 2: b's own
    assert b.delivered[-1][0] == later
    assert b.store.last_commit_ts >= later  # its own next commit comes after it
    assert (await b.commit("after"))[0] > later


async def test_towns_on_other_databases_never_share_a_channel(stores):
    one, same, other = await stores("town"), await stores("town"), await stores("other")
    channel = await database_channel(one)
    assert channel.startswith("smalltown:commits:")
    assert await database_channel(same) == channel  # kept in the database, made once
    assert await database_channel(other) != channel


async def test_a_message_that_is_not_a_commit_is_ignored_and_listening_goes_on(
    processes, redis, caplog
):
    a = await processes()
    channel = await database_channel(a.store)
    client = MemoryClient(redis)
    for junk in (b"not json", b"[]", b'{"origin": "o", "ts": "1", "writes": []}'):
        await client.publish(channel, junk)
    await client.publish(channel, encode("elsewhere", 1, ()))
    await eventually(lambda: a.delivered, "the commit after the junk")
    assert a.delivered == [(1, ())] and a.invalidator.received == 1
    assert caplog.text.count("that is not a commit") == 3


async def test_lost_redis_is_reported_retried_and_every_live_query_re_runs_once_it_is_back(
    processes, redis, caplog, quick_retries
):
    a, b = await processes(), await processes()
    assert a.invalidator.describe()["listening"]
    redis.stop()
    await eventually(lambda: not a.invalidator.listening.is_set(), "a to see Redis gone")
    await eventually(lambda: redis.refused >= 6, "a and b to try again, several times")
    assert not a.invalidator.describe()["listening"] and a.resyncs == 0
    assert caplog.text.count(f"lost Redis at {SHOWN}") == 2  # once each, not per retry

    redis.start()
    await a.invalidator.wait_listening()
    await b.invalidator.wait_listening()
    assert a.resyncs == b.resyncs == 1  # what was missed meanwhile is re-read, once
    assert f"Redis at {SHOWN} is back; re-running every live query" in caplog.text
    made = await b.commit()
    await eventually(lambda: made in a.delivered, "a commit after the return to arrive")
    assert a.invalidator.describe()["listening"] and a.resyncs == 1


async def test_commits_wait_in_a_bounded_queue_and_the_overflow_is_counted(
    processes, redis, monkeypatch
):
    monkeypatch.setattr(redis_invalidator, "OUTBOX", 3)
    a = await processes()
    redis.hold()
    first = await a.commit("1")
    await eventually(lambda: redis.held == 1, "the first publish to be under way")
    waiting = [await a.commit(str(n)) for n in range(2, 5)]  # the queue's three places
    assert a.invalidator.dropped == 0
    lost = [await a.commit(str(n)) for n in range(5, 7)]
    assert a.invalidator.dropped == 2 and a.invalidator.describe()["dropped"] == 2
    assert len(a.delivered) == 6  # this process's live queries miss nothing

    redis.start()
    await eventually(lambda: len(redis.published) == 4, "the waiting commits to go out")
    after = await a.commit("7")
    await eventually(lambda: len(redis.published) == 5, "the next commit to go out")
    sent = [(ts, writes) for _, ts, writes in redis.commits()]
    assert sent == [first, *waiting, after]  # in order; the two dropped are not among them
    assert not [commit for commit in lost if commit in sent]


async def test_a_refused_publish_is_retried_and_one_refused_every_time_is_logged(
    processes, redis, caplog, quick_retries
):
    a = await processes()
    redis.refuse_publishes = 2
    first = await a.commit("retried")
    await eventually(lambda: redis.published, "the third try to get through")
    redis.refuse_publishes = 6  # the first try and every retry
    await a.commit("given up")
    await eventually(
        lambda: "a commit could not be published" in caplog.text, "the publisher to give up"
    )
    third = await a.commit("next")
    await eventually(lambda: len(redis.published) == 2, "the next commit to go out")
    assert [(ts, w) for _, ts, w in redis.commits()] == [first, third]
    assert a.invalidator.dropped == 0  # given up after retries is logged, not counted


async def test_health_is_told_the_masked_url_and_the_counts(processes, redis):
    a = await processes()
    assert a.invalidator.describe() == {
        "url": SHOWN,
        "listening": True,
        "received": 0,
        "dropped": 0,
    }
    assert redis.urls == [URL]  # the client itself is given the password


async def test_no_message_shows_the_password(stores, redis, caplog, quick_retries):
    redis.stop()
    a = Process(await stores(), redis)
    try:
        with pytest.raises(ConnectionError) as refused:
            await a.invalidator.wait_listening(timeout=0.05)  # it is stopped: never
        assert f"Redis at {SHOWN} does not answer: start it, or unset" in str(refused.value)
        await eventually(lambda: "lost Redis" in caplog.text, "the loss to be logged")
        assert SECRET not in str(refused.value) + caplog.text
    finally:
        await a.invalidator.close()


async def test_closing_stops_delivering_and_publishing_and_closes_the_client(processes, redis):
    a = await processes()
    channel = await database_channel(a.store)
    assert redis.subscribers[channel]
    await a.invalidator.close()
    assert redis.closed == 1 and not redis.subscribers[channel]
    await a.commit()  # delivered synchronously, were it still attached
    assert a.delivered == [] and redis.published == []
