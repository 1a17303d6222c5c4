"""Convex's WebSocket sync protocol, at ``/api/<client version>/sync`` and ``/api/sync``.

Per connection the server keeps a version ``(querySet, identity, ts)``; every Transition
starts where the previous one ended, so all of them leave through one sender task, in
order. Query results come from the subscription manager; a mutation's response is
followed by a Transition reaching the mutation's timestamp once every update it caused
has been queued, which is what resolves the client's promise.

A connection holds bounded memory whatever its client does (see flow.py): its socket is
not read while ``MAX_PENDING_CALLS`` of its calls wait or run; updates waiting to go out
merge into one Transition; and a client whose unsent frames pass ``MAX_OUTBOX_BYTES`` is
cut off. A frame that breaks the protocol (not JSON text, a field of the wrong type) gets
a FatalError and a close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from smalltown.runtime import (
    ANONYMOUS,
    ArgumentValidationError,
    FunctionError,
    Identity,
    Runtime,
    UnauthorizedError,
    canonical_path,
    session_identity,
    wire,
)
from smalltown.runtime.subscriptions import Result, Subscription, SubscriptionManager
from smalltown.server import json_input
from smalltown.server.dedupe import MutationDeduper, fingerprint
from smalltown.server.eager import start_eagerly
from smalltown.server.errors import to_result
from smalltown.server.flow import CallBudget, Outbox
from smalltown.server.metrics import Metrics
from smalltown.server.ratelimit import RateLimiter, RateLimitExceeded

log = logging.getLogger("smalltown.server.sync")
PING_SECONDS = 15.0
MAX_QUERIES_PER_CONNECTION = 1000
#: Bytes of frames that may wait to go out to one connection (each counted with 256 bytes
#: of bookkeeping; see flow.py), beyond the one being sent. A client that does not read
#: its frames is cut off past this: a FatalError, if it can still be sent, and a close.
MAX_OUTBOX_BYTES = 8 << 20
#: Mutations and actions of one connection waiting or running at once, and the bytes of
#: their frames: at either bound the server stops reading that socket until one is done.
MAX_PENDING_CALLS = 64
MAX_PENDING_CALL_BYTES = 8 << 20
#: Seconds a closing connection waits for its last frames (a FatalError, the close) to
#: be taken by a client that reads slowly or not at all; then it lets the socket go.
CLOSE_GRACE_SECONDS = 5.0
MAX_SESSION_ID = 128  # a client's sessionId is a UUID (36 characters)
U32_MAX = 2**32 - 1


class ProtocolError(Exception):
    """The client broke the protocol: it gets a FatalError and the socket closes."""


@dataclass
class SyncSettings:
    ping_seconds: float = PING_SECONDS
    max_queries: int = MAX_QUERIES_PER_CONNECTION
    max_outbox_bytes: int = MAX_OUTBOX_BYTES
    max_pending_calls: int = MAX_PENDING_CALLS
    close_grace_seconds: float = CLOSE_GRACE_SECONDS


@dataclass
class _Version:
    query_set: int = 0
    identity: int = 0
    ts: int = 0

    def text(self) -> str:
        """The version as JSON text, built directly: it is sent once per Transition."""
        return (
            f'{{"querySet":{self.query_set},"identity":{self.identity},'
            f'"ts":"{wire.encode_u64(self.ts)}"}}'
        )

    def encoded(self) -> dict[str, Any]:
        return {
            "querySet": self.query_set,
            "identity": self.identity,
            "ts": wire.encode_u64(self.ts),
        }


@dataclass
class _Outgoing:
    """A message to send, as JSON text; or a Transition, which the sender completes from
    the live version."""

    text: str | None = None
    transition_ts: int | None = None
    modifications: list[str] = field(default_factory=list)  # each one JSON text
    query_set: int | None = None
    identity: int | None = None
    #: For a Transition of query updates alone: the modification of each query, by id.
    #: Such a Transition still waiting to be sent takes in later updates (see merge).
    updates: dict[int, str] | None = None

    @property
    def size(self) -> int:
        """Its JSON's length (a Transition's two versions counted as 200 characters)."""
        if self.text is not None:
            return len(self.text)
        return 200 + sum(len(m) for m in self.mods)

    @property
    def mods(self) -> Iterable[str]:
        return self.modifications if self.updates is None else self.updates.values()

    def merge(self, later: _Outgoing) -> _Outgoing:
        """One Transition of updates for both: each query's latest modification, reaching
        the later timestamp. A query unchanged since the earlier one is unchanged at the
        later one too (else the later round would carry it), so the result is one
        consistent snapshot, as each of them was."""
        assert self.updates is not None and later.updates is not None
        return _Outgoing(
            transition_ts=max(self.transition_ts or 0, later.transition_ts or 0),
            updates={**self.updates, **later.updates},
        )


def _message(message: dict[str, Any]) -> _Outgoing:
    return _Outgoing(text=wire.dumps(message))


@dataclass
class _Call:
    """A Mutation or Action as it arrived: what to run, as whom, and its frame's size."""

    request_id: int
    path: str
    args: Any
    identity: Identity
    session: str
    size: int


def _modification(sub: Subscription, result: Result) -> str:
    """One modification as JSON text. The value's JSON is made once per result and shared
    by every connection subscribed to it; only the queryId differs between them."""
    if result.ok:
        return (
            f'{{"type":"QueryUpdated","queryId":{sub.query_id},"value":{result.value_json},'
            '"logLines":[],"journal":null}'
        )
    return _failed(sub.query_id, result.error or "", result)


class SyncConnection:
    def __init__(
        self,
        websocket: WebSocket,
        runtime: Runtime,
        manager: SubscriptionManager,
        deduper: MutationDeduper,
        settings: SyncSettings,
        limiter: RateLimiter,
        metrics: Metrics | None = None,
    ) -> None:
        self._ws = websocket
        self._metrics = metrics
        self._limiter = limiter
        self._address = websocket.client.host if websocket.client else None
        self._runtime = runtime
        self._manager = manager
        self._deduper = deduper
        self._settings = settings
        self._version = _Version()
        self._query_set = 0  # the last newVersion received; the sender's copy may lag
        self._identity: Identity = ANONYMOUS  # as the client authenticated
        self._session = ""
        # who the client is while it sends no auth: its session's own identity (auth.py)
        self._session_identity: Identity = ANONYMOUS
        self._subs: dict[int, Subscription] = {}
        self._query_specs: dict[int, tuple[str, dict[str, Any]]] = {}
        self._pending_adds: set[int] = set()
        self._outbox: Outbox[_Outgoing | None] = Outbox(settings.max_outbox_bytes)
        self._cut_off = False  # set when the outbox overflowed: nothing more is queued
        # Updates are sent where they are delivered when nothing is queued or being sent
        # (see eager.py); a send that had to wait finishes in ``_inflight``.
        self._send_frame: Callable[[dict[str, Any]], Coroutine[Any, Any, None]] | None = None
        self._sender_busy = False
        self._inflight: asyncio.Task | None = None
        # Calls waiting or running are bounded by the budget, so this queue is too.
        self._calls = CallBudget(settings.max_pending_calls, MAX_PENDING_CALL_BYTES)
        self._mutations: asyncio.Queue[_Call | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task] = set()
        self._receiver: asyncio.Task | None = None

    # --- the listener the subscription manager calls ---------------------------------

    def deliver(self, ts: int, changes: list[tuple[Subscription, Result]]) -> None:
        if self._cut_off:
            return
        updates = {
            sub.query_id: _modification(sub, result)
            for sub, result in changes
            if self._subs.get(sub.query_id) is sub and sub.query_id not in self._pending_adds
        }
        item = _Outgoing(transition_ts=ts, updates=updates)
        if (
            self._send_frame is None
            or self._sender_busy
            or len(self._outbox)
            or (self._inflight is not None and not self._inflight.done())
        ):
            self._queue_update(item)
            return
        try:
            frame = {"type": "websocket.send", "text": self._text(item)}
            self._inflight = start_eagerly(self._send_frame(frame))
        except Exception:  # the socket is gone; the receiver notices and cleans up
            self._send_frame = None

    # --- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        await self._ws.accept()
        # Frames go straight to the ASGI send once the socket is open: Starlette's checks
        # of its state machine on every frame are a measurable share of fanning out one
        # update to a thousand subscribers, and nothing but frames is sent this way.
        self._send_frame = getattr(self._ws, "_send", self._ws.send)
        sender = asyncio.create_task(self._send_forever())
        workers = [
            asyncio.create_task(self._mutate_forever()),
            asyncio.create_task(self._ping_forever()),
        ]
        # The receiver is a task of its own so that a cut-off can stop it wherever it
        # waits (for a frame, for room among the calls, for a subscription's snapshot).
        receiver = self._receiver = asyncio.create_task(self._receive_forever())
        try:
            await asyncio.wait([receiver])
            failure = None if receiver.cancelled() else receiver.exception()
            if isinstance(failure, ProtocolError):
                log.info("closing a sync connection: %s", failure)
                self._last_words(str(failure))
            elif failure is not None and not isinstance(failure, WebSocketDisconnect):
                # A bug of ours: the client learns an id, the log the traceback.
                self._last_words(to_result(failure).error or "Server Error")
        finally:
            receiver.cancel()
            for sub in self._subs.values():
                self._manager.unsubscribe(sub)
            self._subs.clear()
            for task in [*workers, *self._tasks]:
                task.cancel()
            self._outbox.put(None, 0, force=True)
            # A client that reads slowly, or not at all, gets a grace period for its last
            # frames (FatalError, close); then the socket is let go unsent.
            deadline = asyncio.get_running_loop().time() + self._settings.close_grace_seconds
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sender, self._settings.close_grace_seconds)
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), left)
            if self._metrics is not None:
                self._metrics.observe_sync_connection(
                    self._outbox.peak_bytes, self._calls.peak_calls
                )

    def _queue(self, item: _Outgoing) -> None:
        """Queue a frame to send, or cut the connection off if its outbox is full."""
        if self._cut_off:
            return
        if not self._outbox.put(item, item.size):
            self._cut(self._outbox.bytes)

    def _queue_update(self, item: _Outgoing) -> None:
        """Queue a Transition of updates; one still waiting at the end of the queue takes
        it in instead, so a client that reads slowly gets fewer, newer Transitions and
        its queue holds each query's latest value once, not every value since."""
        if self._cut_off:
            return
        last = self._outbox.last()
        if last is None or last.updates is None:
            self._queue(item)
            return
        merged = last.merge(item)
        if not self._outbox.replace_last(merged, merged.size):
            self._cut(self._outbox.bytes + merged.size - last.size)

    def _cut(self, queued: int) -> None:
        """The client does not read what it is sent: drop what waits, and end the
        connection with a FatalError (sent if the client reads again within the grace)."""
        self._cut_off = True
        log.warning(
            "cutting off a sync connection from %s that does not read: %d bytes of frames "
            "waiting (the bound is %d)",
            self._address,
            queued,
            self._outbox.max_bytes,
        )
        if self._metrics is not None:
            self._metrics.sync_cut_off.inc()
        self._outbox.clear()
        self._last_words(
            f"the client did not read its messages: over {self._outbox.max_bytes} bytes "
            "waited for it"
        )
        if self._receiver is not None:
            self._receiver.cancel()

    def _last_words(self, error: str) -> None:
        """The FatalError that ends the connection, queued whatever the bound."""
        self._outbox.put(_message({"type": "FatalError", "error": error}), 0, force=True)

    async def _receive_forever(self) -> None:
        while True:
            event = await self._ws.receive()
            if event["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(event.get("code", 1000), event.get("reason"))
            text = event.get("text")
            if text is None:
                raise ProtocolError("a binary message: the protocol's messages are JSON text")
            try:
                message = json_input.loads(text)
            except json_input.BadJson as exc:
                raise ProtocolError(f"a message that {exc}") from None
            if not isinstance(message, dict):
                raise ProtocolError("a message that is not a JSON object")
            kind = message.get("type")
            if kind == "Connect":
                self._session = _session_id(message)
                self._session_identity = session_identity(self._session)
            elif kind == "ModifyQuerySet":
                await self._modify_query_set(message)
            elif kind == "Mutation":
                call = self._call(message, len(text))
                await self._calls.acquire(call.size)
                self._mutations.put_nowait(call)
            elif kind == "Action":
                call = self._call(message, len(text))
                await self._calls.acquire(call.size)
                self._spawn(self._action(call))
            elif kind == "Authenticate":
                await self._authenticate(message)
            elif kind == "Event":
                pass  # client telemetry; nothing to do
            else:
                raise ProtocolError(f"unknown message type {_shown(kind)}")

    @property
    def _caller(self) -> Identity:
        """Who calls run as: the authenticated identity, else the client's session."""
        return self._identity if self._identity.kind != "none" else self._session_identity

    def _query_identity(self, path: str) -> Identity:
        """Who a live query runs as. A session is only told to queries that answer per
        caller; every other query of every anonymous client is one shared run."""
        caller = self._caller
        if caller.kind != "session":
            return caller
        try:
            per_caller = self._runtime.registry.get(path, public_only=True).per_caller
        except FunctionError:
            per_caller = False  # the query fails the same way for everybody
        return caller if per_caller else ANONYMOUS

    def _call(self, message: dict[str, Any], size: int) -> _Call:
        """A call, checked as it arrives, with the identity it runs as: the one in force
        when it was sent, whatever Authenticate comes after it."""
        return _Call(
            _request_id(message),
            _udf_path(message),
            message.get("args"),
            self._caller,
            self._session,
            size,
        )

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _text(self, item: _Outgoing) -> str:
        """A message's text; a Transition is chained from the live version, so texts must
        be made in the order they are sent."""
        if item.text is not None:
            return item.text
        start = self._version.text()
        if item.query_set is not None:
            self._version.query_set = item.query_set
        if item.identity is not None:
            self._version.identity = item.identity
        self._version.ts = max(self._version.ts, item.transition_ts or 0)
        return (
            f'{{"type":"Transition","startVersion":{start},'
            f'"endVersion":{self._version.text()},'
            f'"modifications":[{",".join(item.mods)}]}}'
        )

    async def _send_forever(self) -> None:
        while (item := await self._outbox.get()) is not None:
            if self._send_frame is None:
                return  # the socket is gone
            self._sender_busy = True
            try:
                if self._inflight is not None:
                    await self._inflight  # an update sent eagerly goes first
                    self._inflight = None
                await self._send_frame({"type": "websocket.send", "text": self._text(item)})
            except Exception:
                self._send_frame = None
                return  # the socket is gone; the receiver notices and cleans up
            finally:
                self._sender_busy = False

    async def _ping_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.ping_seconds)
            if not len(self._outbox):  # frames waiting say as much as a Ping would
                self._queue(_Outgoing(text='{"type":"Ping"}'))

    # --- queries -----------------------------------------------------------------------

    async def _modify_query_set(self, message: dict[str, Any]) -> None:
        base = message.get("baseVersion")
        if base != self._query_set or type(base) is not int:
            raise ProtocolError(
                f"query set version mismatch: base {_shown(base)}, server at {self._query_set}"
            )
        new = _u32(message, "newVersion", "ModifyQuerySet")
        mods = message.get("modifications")
        if not isinstance(mods, list):
            raise ProtocolError("ModifyQuerySet needs a list of modifications")
        self._query_set = new
        out: list[str] = []  # each modification as JSON text
        adds: list[tuple[int, str, dict[str, Any], Identity]] = []
        for mod in mods:
            if not isinstance(mod, dict):
                raise ProtocolError("a query set modification must be an object")
            query_id = _u32(mod, "queryId", "a query set modification")
            if mod.get("type") == "Add":
                path = _udf_path(mod)
                if len(self._subs) + len(adds) >= self._settings.max_queries:
                    out.append(_failed(query_id, "too many subscriptions on this connection"))
                    continue
                try:
                    args = _args(mod.get("args"))
                    self._limiter.check(self._caller, self._address)
                except (ArgumentValidationError, RateLimitExceeded) as exc:
                    out.append(_failed(query_id, str(exc)))
                    continue
                path = canonical_path(path)
                adds.append((query_id, path, args, self._query_identity(path)))
            elif mod.get("type") == "Remove":
                sub = self._subs.pop(query_id, None)
                self._query_specs.pop(query_id, None)
                if sub is not None:
                    self._manager.unsubscribe(sub)
                out.append(f'{{"type":"QueryRemoved","queryId":{query_id}}}')
            else:
                raise ProtocolError(f"unknown query set modification {_shown(mod.get('type'))}")
        ts = 0
        if adds:
            ids = {query_id for query_id, *_ in adds}
            self._pending_adds |= ids
            try:
                ts, subscribed = await self._manager.subscribe(self, adds)
            finally:
                self._pending_adds -= ids
            for (query_id, path, args, _), (sub, _) in zip(adds, subscribed, strict=True):
                old = self._subs.pop(query_id, None)
                if old is not None:
                    self._manager.unsubscribe(old)
                self._subs[query_id] = sub
                self._query_specs[query_id] = (path, args)
                # The shared result may be newer than the snapshot: take the latest.
                out.append(_modification(sub, sub.shared.result or Result(error="no result")))
        self._queue(_Outgoing(transition_ts=ts, modifications=out, query_set=new))

    # --- auth --------------------------------------------------------------------------

    async def _authenticate(self, message: dict[str, Any]) -> None:
        base = _u32(message, "baseVersion", "Authenticate")
        token_type = message.get("tokenType")
        value = message.get("value", "")
        if token_type in ("User", "Admin") and not isinstance(value, str):
            raise ProtocolError(f"Authenticate needs its token as a string, got {_shown(value)}")
        try:
            if token_type == "User":
                identity = self._runtime.auth.verify_user(value)
            elif token_type == "Admin":
                identity = self._runtime.auth.verify_admin(value)
            elif token_type == "None":
                identity = ANONYMOUS
            else:
                raise ProtocolError(f"unknown tokenType {_shown(token_type)}")
        except UnauthorizedError as exc:
            self._queue(
                _message(
                    {
                        "type": "AuthError",
                        "error": str(exc),
                        "baseVersion": base,
                        "authUpdateAttempted": True,
                    }
                )
            )
            return
        self._identity = identity
        # Every query re-runs as the new identity.
        requery = [
            (qid, path, args, self._query_identity(path))
            for qid, (path, args) in self._query_specs.items()
        ]
        mods: list[str] = []
        ts = 0
        if requery:
            for sub in self._subs.values():
                self._manager.unsubscribe(sub)
            ids = set(self._query_specs)
            self._pending_adds |= ids
            try:
                ts, subscribed = await self._manager.subscribe(self, requery)
            finally:
                self._pending_adds -= ids
            for (qid, *_), (sub, _) in zip(requery, subscribed, strict=True):
                self._subs[qid] = sub
                mods.append(_modification(sub, sub.shared.result or Result(error="no result")))
        self._queue(_Outgoing(transition_ts=ts, modifications=mods, identity=base + 1))

    # --- mutations and actions ---------------------------------------------------------

    async def _mutate_forever(self) -> None:
        """Mutations of one client run one at a time, in the order it sent them."""
        while (call := await self._mutations.get()) is not None:
            try:
                await self._mutation(call)
            finally:
                self._calls.release(call.size)

    async def _mutation(self, call: _Call) -> None:
        if call.session:  # a client that may reconnect and replay it (see dedupe.py)
            response, ts = await self._deduper.run_once(
                (call.session, call.identity.key),
                call.request_id,
                fingerprint(canonical_path(call.path), call.args),
                lambda: self._run_mutation(call),
            )
        else:
            response, ts = await self._run_mutation(call)
        self._queue(_Outgoing(text=response))
        if ts:
            with contextlib.suppress(TimeoutError):
                await self._manager.settled(ts)
        # Always follow with a Transition reaching the mutation's ts: the client's promise
        # resolves only on one, even when no query changed.
        self._queue_update(_Outgoing(transition_ts=ts, updates={}))

    async def _run_mutation(self, call: _Call) -> tuple[str, int]:
        """The MutationResponse's JSON text, and the mutation's timestamp (0 if failed)."""
        try:
            self._limiter.check(call.identity, self._address)
            path = canonical_path(call.path)
            outcome = await self._runtime.mutation(path, _args(call.args), call.identity)
            text = wire.dumps(
                {
                    "type": "MutationResponse",
                    "requestId": call.request_id,
                    "success": True,
                    "result": wire.encode(outcome.value),
                    "ts": wire.encode_u64(outcome.ts),
                    "logLines": [],
                }
            )
        except Exception as exc:
            return wire.dumps(_failure("MutationResponse", call.request_id, exc)), 0
        return text, outcome.ts

    async def _action(self, call: _Call) -> None:
        try:
            try:
                self._limiter.check(call.identity, self._address)
                path = canonical_path(call.path)
                value = await self._runtime.action(path, _args(call.args), call.identity)
                text = wire.dumps(
                    {
                        "type": "ActionResponse",
                        "requestId": call.request_id,
                        "success": True,
                        "result": wire.encode(value),
                        "logLines": [],
                    }
                )
            except Exception as exc:
                text = wire.dumps(_failure("ActionResponse", call.request_id, exc))
            self._queue(_Outgoing(text=text))
        finally:
            self._calls.release(call.size)


def _shown(value: Any) -> str:
    """A client's value for an error message: short, whatever the client sent."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _u32(message: dict[str, Any], field: str, what: str) -> int:
    """A protocol number (version, queryId, requestId): an integer from 0 to 2^32 - 1."""
    value = message.get(field)
    if type(value) is not int or not 0 <= value <= U32_MAX:
        raise ProtocolError(f"{what} needs {field} as an integer from 0 to 2^32-1")
    return value


def _request_id(message: dict[str, Any]) -> int:
    return _u32(message, "requestId", str(message["type"]))


def _udf_path(message: dict[str, Any]) -> str:
    path = message.get("udfPath")
    if not isinstance(path, str) or not path:
        raise ProtocolError(f"{message.get('type', 'Add')} needs a udfPath naming a function")
    return path


def _session_id(message: dict[str, Any]) -> str:
    session = message.get("sessionId", "")
    if not isinstance(session, str) or len(session) > MAX_SESSION_ID:
        raise ProtocolError(
            f"Connect needs sessionId as a string of at most {MAX_SESSION_ID} characters"
        )
    return session


def _failure(kind: str, request_id: Any, exc: BaseException) -> dict[str, Any]:
    """A failed MutationResponse or ActionResponse; errorData only for ConvexError."""
    result = to_result(exc)
    reply = {
        "type": kind,
        "requestId": request_id,
        "success": False,
        "result": result.error,
        "logLines": [],
    }
    if result.has_error_data:
        reply["errorData"] = result.error_data
    return reply


def _args(raw: Any) -> dict[str, Any]:
    if isinstance(raw, list):
        raw = raw[0] if raw else {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ArgumentValidationError(f"args must be an object, got {type(raw).__name__}")
    try:
        args = wire.decode(raw)
    except wire.WireFormatError as exc:
        raise ArgumentValidationError(f"invalid arguments: {exc}") from None
    if not isinstance(args, dict):  # {"$integer": ...} and its kin decode to a scalar
        raise ArgumentValidationError(f"args must be an object, got {type(args).__name__}")
    return args


def _failed(query_id: int, message: str, result: Result | None = None) -> str:
    failed: dict[str, Any] = {
        "type": "QueryFailed",
        "queryId": query_id,
        "errorMessage": message,
        "logLines": [],
        "journal": None,
    }
    if result is not None and result.has_error_data:
        failed["errorData"] = result.error_data
    return wire.dumps(failed)
