"""Commits of every process that shares one database, through Redis pub/sub.

Several smalltown processes can serve one PostgreSQL (or MongoDB) database; a live query
must then re-run when any of them commits, not only its own process. Each process
publishes its commits (timestamp and writes: table, id, index keys before and after) on
one channel and delivers the other processes' commits to its live queries, so a browser
connected to any process sees every change.

Timestamps come from each process's own clock. A process that receives one moves its
clock past it (``Store.observe_commit``), so its later commits are later still, and
waiting for one of them waits for what arrived before. Pub/sub keeps nothing for a
subscriber that is away: after the connection drops, the process cannot know what it
missed, so once it is back it re-runs every live query (``resync``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from smalltown.runtime.stopping import STOP_SECONDS, stop_tasks
from smalltown.store import Store, Transaction, Write, mask_password

log = logging.getLogger("smalltown.runtime.redis")

RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)  # between reconnections, then every 5 s
OUTBOX = 10_000  # commits waiting to be published; past that (Redis long gone) dropped
SECRETS = "_smalltown_secrets"


async def database_channel(store: Store) -> str:
    """The channel of the processes that share ``store``'s database: named by a random id
    kept in the database (made once), so towns on one Redis never hear each other, and
    processes that reach one database by different addresses still meet."""

    async def ensure(tx: Transaction) -> str:
        found = await tx.first(SECRETS, "by_name", eq={"name": "commitChannel"})
        if found is not None:
            channel: str = found["value"]
            return channel
        value = uuid.uuid4().hex
        await tx.insert(SECRETS, {"name": "commitChannel", "value": value})
        return value

    return f"smalltown:commits:{await store.run(ensure)}"


class RedisInvalidator:
    """An ``Invalidator`` over Redis pub/sub: this process's commits and everyone else's."""

    def __init__(
        self,
        url: str,
        channel: str | None = None,
        connect: Callable[[str], redis.Redis] = redis.from_url,
    ) -> None:
        """``connect`` makes the client from ``url`` (unit tests pass an in-memory one)."""
        self._url = url
        self._connect = connect
        self._shown = mask_password(url)  # for messages: never the password
        self._channel = channel  # None: the database's own (database_channel)
        self._origin = uuid.uuid4().hex  # to know this process's own messages
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(OUTBOX)
        self.dropped = 0  # commits not published: the others resync once Redis is back
        self._tasks: list[asyncio.Task[None]] = []
        self._detach: Callable[[], None] | None = None
        self._client: redis.Redis | None = None
        #: set while subscribed to the channel (tests wait on it)
        self.listening = asyncio.Event()
        self.received = 0  # other processes' commits delivered here

    def attach(
        self,
        store: Store,
        deliver: Callable[[int, tuple[Write, ...]], None],
        resync: Callable[[], None] = lambda: None,
    ) -> None:
        self._client = self._connect(self._url)

        def local(ts: int, writes: tuple[Write, ...]) -> None:
            deliver(ts, writes)
            try:
                self._outbox.put_nowait(encode(self._origin, ts, writes))
            except asyncio.QueueFull:
                self.dropped += 1

        def remote(ts: int, writes: tuple[Write, ...]) -> None:
            store.observe_commit(ts)
            self.received += 1
            deliver(ts, writes)

        self._detach = store.on_commit(local)  # (queued until the channel is known)
        self._tasks = [
            asyncio.create_task(self._run(store, remote, resync), name="smalltown-redis")
        ]

    def describe(self) -> dict[str, Any]:
        """For /health: whether other processes' changes are reaching this one."""
        return {
            "url": self._shown,
            "listening": self.listening.is_set(),
            "received": self.received,
            "dropped": self.dropped,
        }

    async def wait_listening(self, timeout: float = 5.0) -> None:
        """Return once subscribed; raise ConnectionError, with the fix, if Redis does not
        answer in ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self.listening.wait(), timeout)
        except TimeoutError:
            raise ConnectionError(
                f"Redis at {self._shown} does not answer: start it, or unset "
                "SMALLTOWN_REDIS_URL to serve from this process alone"
            ) from None

    async def _run(
        self,
        store: Store,
        remote: Callable[[int, tuple[Write, ...]], None],
        resync: Callable[[], None],
    ) -> None:
        if self._channel is None:
            self._channel = await database_channel(store)
        channel = self._channel
        await asyncio.gather(
            self._publish_forever(channel), self._listen_forever(channel, remote, resync)
        )

    async def close(self) -> None:
        if self._detach:
            self._detach()
            self._detach = None
        await stop_tasks(self._tasks, "the Redis listener")
        if self._client is not None:
            with contextlib.suppress(Exception):  # (a lost Redis: a stop must not wait on it)
                await asyncio.wait_for(self._client.aclose(), STOP_SECONDS)

    async def _publish_forever(self, channel: str) -> None:
        assert self._client is not None
        while True:
            message = await self._outbox.get()
            for delay in (*RETRY_SECONDS, None):
                try:
                    await self._client.publish(channel, message)
                    break
                except (RedisError, OSError) as exc:
                    if delay is None:  # the others resync when their connection is back
                        log.error("a commit could not be published to %s: %s", self._shown, exc)
                        break
                    await asyncio.sleep(delay)

    async def _listen_forever(
        self,
        channel: str,
        remote: Callable[[int, tuple[Write, ...]], None],
        resync: Callable[[], None],
    ) -> None:
        assert self._client is not None
        failures = 0
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    if failures:
                        log.warning("Redis at %s is back; re-running every live query", self._shown)
                        resync()
                    failures = 0
                    self.listening.set()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._take(message["data"], remote)
            except (RedisError, OSError) as exc:
                self.listening.clear()
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                if failures == 1:
                    log.error(
                        "lost Redis at %s (%s): other processes' changes do not reach this "
                        "one's live queries until it is back; retrying",
                        self._shown,
                        exc,
                    )
                await asyncio.sleep(delay)

    def _take(self, data: bytes, remote: Callable[[int, tuple[Write, ...]], None]) -> None:
        try:
            origin, ts, writes = decode(data)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignored a message on %s that is not a commit: %s", self._channel, exc)
            return
        if origin != self._origin:
            remote(ts, writes)


def encode(origin: str, ts: int, writes: tuple[Write, ...]) -> bytes:
    """A commit as JSON: index keys (bytes) in base64."""
    return json.dumps(
        {
            "origin": origin,
            "ts": ts,
            "writes": [
                [w.table, w.id, _keys_out(w.old_keys), _keys_out(w.new_keys)] for w in writes
            ],
        },
        separators=(",", ":"),
    ).encode()


def decode(data: bytes | str) -> tuple[str, int, tuple[Write, ...]]:
    """``encode``'s commit; ValueError, TypeError or KeyError for anything else."""
    message = json.loads(data)
    origin, ts = message["origin"], message["ts"]
    if not isinstance(origin, str) or isinstance(ts, bool) or not isinstance(ts, int):
        raise ValueError("origin must be a string and ts an integer")
    writes = []
    for table, id, old, new in message["writes"]:
        if not isinstance(table, str) or not isinstance(id, str):
            raise ValueError("a write's table and id must be strings")
        writes.append(Write(table, id, _keys_in(old), _keys_in(new)))
    return origin, ts, tuple(writes)


def _keys_out(keys: Mapping[str, bytes] | None) -> dict[str, str] | None:
    return None if keys is None else {k: base64.b64encode(v).decode() for k, v in keys.items()}


def _keys_in(keys: Any) -> dict[str, bytes] | None:
    if keys is None:
        return None
    if not isinstance(keys, dict):
        raise ValueError("index keys must be an object")
    return {str(k): base64.b64decode(v, validate=True) for k, v in keys.items()}
