"""Live queries: re-run a query when a committed write touches what it read.

Subscriptions with the same function, arguments and identity share one run: a commit that
overlaps their read set marks them dirty, a refresh round re-runs every dirty query in one
snapshot, and each listener gets the changed results of its own subscriptions, together,
with the round's timestamp. Results that did not change are not delivered.

Commits arrive through an :class:`Invalidator`. :class:`LocalInvalidator` listens to this
process's store; a cross-process one (Redis pub/sub, PostgreSQL LISTEN/NOTIFY) delivers the
same ``(ts, writes)`` from every process.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from smalltown.runtime import wire
from smalltown.runtime.auth import Identity
from smalltown.runtime.runtime import Runtime
from smalltown.runtime.stopping import stop_tasks
from smalltown.store import KeyRange, Store, StoreConnectionError, Write, overlaps

log = logging.getLogger("smalltown.runtime.subscriptions")
COMMIT_LOG = 4096  # recent commits kept to check new subscriptions against
RETRY_SECONDS = 1.0  # a round the database could not run is tried again after this long

Deliver = Callable[[int, tuple[Write, ...]], None]


class Invalidator(Protocol):
    def attach(self, store: Store, deliver: Deliver, resync: Callable[[], None]) -> None:
        """Deliver every commit from now on; call ``resync`` when some may have been
        missed (every live query then re-runs)."""
        ...

    async def close(self) -> None: ...


class LocalInvalidator:
    """Commits of this process only."""

    def __init__(self) -> None:
        self._detach: Callable[[], None] | None = None

    def attach(
        self, store: Store, deliver: Deliver, resync: Callable[[], None] = lambda: None
    ) -> None:
        self._detach = store.on_commit(deliver)  # (none is ever missed: no resync)

    async def close(self) -> None:
        if self._detach:
            self._detach()
            self._detach = None


@dataclass(frozen=True)
class Result:
    """A query's outcome as the wire carries it: an encoded value, or an error."""

    value: Any = None
    error: str | None = None
    error_data: Any = None
    has_error_data: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @functools.cached_property
    def value_json(self) -> str:
        """The encoded value as JSON text, made once however many clients receive it."""
        return wire.dumps(self.value)


class Listener(Protocol):
    def deliver(self, ts: int, changes: list[tuple[Subscription, Result]]) -> None: ...


@dataclass(eq=False)
class Subscription:
    listener: Listener
    query_id: int
    shared: _Shared


@dataclass(eq=False)
class _Shared:
    key: tuple[str, str, str]
    path: str
    args: Mapping[str, Any]
    identity: Identity
    reads: tuple[KeyRange, ...] = ()
    result: Result | None = None
    dirty: bool = False
    subscribers: set[Subscription] = field(default_factory=set)


ErrorMapper = Callable[[BaseException], Result]


class SubscriptionManager:
    def __init__(self, runtime: Runtime, invalidator: Invalidator, to_result: ErrorMapper) -> None:
        self._runtime = runtime
        self._invalidator = invalidator
        self._to_result = to_result
        self._shared: dict[tuple[str, str, str], _Shared] = {}
        # Recent commits by arrival number: a commit's timestamp comes from the clock of
        # the process that made it, arrival order from this one alone.
        self._log: collections.deque[tuple[int, tuple[Write, ...]]] = collections.deque(
            maxlen=COMMIT_LOG
        )
        self._arrived = 0
        self._wake = asyncio.Event()
        self._listeners: list[Deliver] = []
        self._seen_ts = runtime.store.last_commit_ts
        self._done_ts = self._seen_ts
        self._settled = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0
        self.query_runs = 0

    async def start(self) -> None:
        self._invalidator.attach(self._runtime.store, self._on_commit, self._resync)
        self._task = asyncio.create_task(self._refresh_forever(), name="smalltown-refresh")

    async def close(self) -> None:
        await self._invalidator.close()
        await stop_tasks([self._task], "the live queries")

    @property
    def invalidator(self) -> Invalidator:
        return self._invalidator

    @property
    def subscription_count(self) -> int:
        return sum(len(s.subscribers) for s in self._shared.values())

    # --- subscribing -------------------------------------------------------------------

    async def subscribe(
        self,
        listener: Listener,
        queries: Sequence[tuple[int, str, Mapping[str, Any], Identity]],
    ) -> tuple[int, list[tuple[Subscription, Result]]]:
        """Subscribe ``listener`` to several queries at once; their current results come
        from one snapshot, with its timestamp."""
        fresh: list[_Shared] = []
        shared_of: list[_Shared] = []
        for _, path, args, identity in queries:
            key = (path, _canonical_args(args), identity.key)
            shared = self._shared.get(key)
            if shared is None:
                shared = _Shared(key, path, args, identity)
                fresh.append(shared)
            shared_of.append(shared)
        ts = self._done_ts
        if fresh:
            before = self._arrived
            ts, results = await self._runtime.query_batch(
                [(s.path, s.args, s.identity) for s in fresh]
            )
            self.query_runs += len(fresh)
            for s, outcome in zip(fresh, results, strict=True):
                s.reads, s.result = outcome[2], self._result(outcome)
                existing = self._shared.setdefault(s.key, s)
                # Commits that arrived once the snapshot began were not checked against
                # these reads (some may be older than it: re-running is only wasted work).
                missed = any(n > before and overlaps(s.reads, w) for n, w in self._log)
                if existing is s and missed:
                    s.dirty = True
                    self._wake.set()
            shared_of = [self._shared[s.key] for s in shared_of]
        out = []
        for (query_id, *_), shared in zip(queries, shared_of, strict=True):
            sub = Subscription(listener, query_id, shared)
            shared.subscribers.add(sub)
            out.append((sub, shared.result or Result(error="not yet run")))
        return ts, out

    def unsubscribe(self, sub: Subscription) -> None:
        shared = sub.shared
        shared.subscribers.discard(sub)
        if not shared.subscribers and self._shared.get(shared.key) is shared:
            del self._shared[shared.key]

    async def settled(self, ts: int, timeout: float = 30) -> None:
        """Wait until every commit up to ``ts`` has been delivered to the listeners."""
        async with self._settled:
            await asyncio.wait_for(self._settled.wait_for(lambda: self._done_ts >= ts), timeout)

    def on_commit(self, listener: Deliver) -> Callable[[], None]:
        """Call ``listener(ts, writes)`` for every commit this process hears of: its own
        and, through the invalidator, every other process's; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- refreshing --------------------------------------------------------------------

    def _on_commit(self, ts: int, writes: tuple[Write, ...]) -> None:
        for listener in list(self._listeners):
            try:
                listener(ts, writes)
            except Exception:
                log.exception("commit listener failed")
        self._seen_ts = max(self._seen_ts, ts)
        self._arrived += 1
        self._log.append((self._arrived, writes))
        for shared in self._shared.values():
            if not shared.dirty and overlaps(shared.reads, writes):
                shared.dirty = True
        # Even a commit that touched nothing goes through the refresh task, which is what
        # advances the settled timestamp, in commit order.
        self._wake.set()

    def _resync(self) -> None:
        """Commits may have been missed: every live query re-runs."""
        for shared in self._shared.values():
            shared.dirty = True
        self._wake.set()

    async def _refresh_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._refresh_round()
            except StoreConnectionError as exc:  # no commit may come: try again shortly
                log.warning("refresh round failed (%s); retrying in %g s", exc, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()
            except Exception:
                log.exception("refresh round failed; retrying on the next commit")

    async def _refresh_round(self) -> None:
        round_ts = self._seen_ts
        dirty = [s for s in self._shared.values() if s.dirty]
        for s in dirty:
            s.dirty = False
        by_listener: dict[int, tuple[Listener, list[tuple[Subscription, Result]]]] = {}
        ts = round_ts
        if dirty:
            self.rounds += 1
            self.query_runs += len(dirty)
            try:
                ts, results = await self._runtime.query_batch(
                    [(s.path, s.args, s.identity) for s in dirty]
                )
            except BaseException:
                for s in dirty:
                    s.dirty = True  # not run: the next round runs them
                raise
            ts = max(ts, round_ts)
            for shared, outcome in zip(dirty, results, strict=True):
                shared.reads = outcome[2]
                result = self._result(outcome)
                if result == shared.result:
                    continue
                shared.result = result
                for sub in list(shared.subscribers):
                    entry = by_listener.setdefault(id(sub.listener), (sub.listener, []))
                    entry[1].append((sub, result))
        for listener, changes in by_listener.values():
            try:
                listener.deliver(ts, changes)
            except Exception:
                log.exception("a listener failed to take an update")
        async with self._settled:
            self._done_ts = max(self._done_ts, round_ts)
            self._settled.notify_all()

    def _result(self, outcome: tuple[Any, BaseException | None, Any]) -> Result:
        value, error, _ = outcome
        if error is not None:
            return self._to_result(error)
        try:
            return Result(value=wire.encode(value))
        except wire.WireFormatError as exc:
            return Result(error=f"the query returned a value that is not a Convex value: {exc}")


def _canonical_args(args: Mapping[str, Any]) -> str:
    return json.dumps(wire.encode(dict(args)), sort_keys=True, separators=(",", ":"))
