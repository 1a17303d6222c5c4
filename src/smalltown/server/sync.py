"""Convex's WebSocket sync protocol, at ``/api/<client version>/sync`` and ``/api/sync``.

Per connection the server keeps a version ``(querySet, identity, ts)``; every Transition
starts where the previous one ended, so all of them leave through one sender task, in
order. Query results come from the subscription manager; a mutation's response is
followed by a Transition reaching the mutation's timestamp once every update it caused
has been queued, which is what resolves the client's promise.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from smalltown.runtime import (
    ANONYMOUS,
    ArgumentValidationError,
    Identity,
    Runtime,
    UnauthorizedError,
    canonical_path,
    wire,
)
from smalltown.runtime.subscriptions import Result, Subscription, SubscriptionManager
from smalltown.server.eager import start_eagerly
from smalltown.server.errors import to_result
from smalltown.server.ratelimit import RateLimiter, RateLimitExceeded

log = logging.getLogger("smalltown.server.sync")
PING_SECONDS = 15.0
MAX_QUERIES_PER_CONNECTION = 1000
DEDUPE_SESSIONS = 10_000
DEDUPE_PER_SESSION = 256


class ProtocolError(Exception):
    """The client broke the protocol: it gets a FatalError and the socket closes."""


@dataclass
class SyncSettings:
    ping_seconds: float = PING_SECONDS
    max_queries: int = MAX_QUERIES_PER_CONNECTION


class MutationDeduper:
    """Remembers mutation responses per (session, requestId): a client replaying an
    unanswered mutation after a reconnect gets the first answer, and nothing runs twice."""

    def __init__(self) -> None:
        self._sessions: collections.OrderedDict[str, collections.OrderedDict[int, Any]] = (
            collections.OrderedDict()
        )

    def get(self, session: str, request_id: int) -> Any | None:
        found = self._sessions.get(session)
        return None if found is None else found.get(request_id)

    def put(self, session: str, request_id: int, response: Any) -> None:
        found = self._sessions.setdefault(session, collections.OrderedDict())
        self._sessions.move_to_end(session)
        found[request_id] = response
        while len(found) > DEDUPE_PER_SESSION:
            found.popitem(last=False)
        while len(self._sessions) > DEDUPE_SESSIONS:
            self._sessions.popitem(last=False)


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
    """A message to send; a Transition is completed by the sender from the live version."""

    message: dict[str, Any] | None = None
    transition_ts: int | None = None
    modifications: list[str] = field(default_factory=list)  # each one JSON text
    query_set: int | None = None
    identity: int | None = None


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
    ) -> None:
        self._ws = websocket
        self._limiter = limiter
        self._address = websocket.client.host if websocket.client else None
        self._runtime = runtime
        self._manager = manager
        self._deduper = deduper
        self._settings = settings
        self._version = _Version()
        self._query_set = 0  # the last newVersion received; the sender's copy may lag
        self._identity: Identity = ANONYMOUS
        self._session = ""
        self._subs: dict[int, Subscription] = {}
        self._query_specs: dict[int, tuple[str, dict[str, Any]]] = {}
        self._pending_adds: set[int] = set()
        self._outbox: asyncio.Queue[_Outgoing | None] = asyncio.Queue()
        # Updates are sent where they are delivered when nothing is queued or being sent
        # (see eager.py); a send that had to wait finishes in ``_inflight``.
        self._send_frame: Callable[[dict[str, Any]], Coroutine[Any, Any, None]] | None = None
        self._sender_busy = False
        self._inflight: asyncio.Task | None = None
        self._mutations: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task] = set()

    # --- the listener the subscription manager calls ---------------------------------

    def deliver(self, ts: int, changes: list[tuple[Subscription, Result]]) -> None:
        mods = [
            _modification(sub, result)
            for sub, result in changes
            if self._subs.get(sub.query_id) is sub and sub.query_id not in self._pending_adds
        ]
        item = _Outgoing(transition_ts=ts, modifications=mods)
        if (
            self._send_frame is None
            or self._sender_busy
            or not self._outbox.empty()
            or (self._inflight is not None and not self._inflight.done())
        ):
            self._outbox.put_nowait(item)
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
        try:
            await self._receive_forever()
        except ProtocolError as exc:
            log.info("closing a sync connection: %s", exc)
            self._outbox.put_nowait(_Outgoing({"type": "FatalError", "error": str(exc)}))
        except WebSocketDisconnect:
            pass
        finally:
            for sub in self._subs.values():
                self._manager.unsubscribe(sub)
            self._subs.clear()
            for task in [*workers, *self._tasks]:
                task.cancel()
            self._outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sender, 5)
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def _receive_forever(self) -> None:
        while True:
            text = await self._ws.receive_text()
            try:
                message = json.loads(text)
            except ValueError:
                raise ProtocolError("a message that is not JSON") from None
            if not isinstance(message, dict):
                raise ProtocolError("a message that is not a JSON object")
            kind = message.get("type")
            if kind == "Connect":
                self._session = str(message.get("sessionId", ""))
            elif kind == "ModifyQuerySet":
                await self._modify_query_set(message)
            elif kind == "Mutation":
                self._mutations.put_nowait(message)
            elif kind == "Action":
                self._spawn(self._action(message))
            elif kind == "Authenticate":
                await self._authenticate(message)
            elif kind == "Event":
                pass  # client telemetry; nothing to do
            else:
                raise ProtocolError(f"unknown message type {kind!r}")

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _text(self, item: _Outgoing) -> str:
        """A message's text; a Transition is chained from the live version, so texts must
        be made in the order they are sent."""
        message = item.message
        if message is not None:
            return wire.dumps(message)
        start = self._version.text()
        if item.query_set is not None:
            self._version.query_set = item.query_set
        if item.identity is not None:
            self._version.identity = item.identity
        self._version.ts = max(self._version.ts, item.transition_ts or 0)
        return (
            f'{{"type":"Transition","startVersion":{start},'
            f'"endVersion":{self._version.text()},'
            f'"modifications":[{",".join(item.modifications)}]}}'
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
            self._outbox.put_nowait(_Outgoing({"type": "Ping"}))

    # --- queries -----------------------------------------------------------------------

    async def _modify_query_set(self, message: dict[str, Any]) -> None:
        base, new = message.get("baseVersion"), message.get("newVersion")
        mods = message.get("modifications")
        if base != self._query_set or not isinstance(new, int):
            raise ProtocolError(
                f"query set version mismatch: base {base!r}, server at {self._query_set}"
            )
        if not isinstance(mods, list):
            raise ProtocolError("ModifyQuerySet needs a list of modifications")
        self._query_set = new
        out: list[str] = []  # each modification as JSON text
        adds: list[tuple[int, str, dict[str, Any], Identity]] = []
        for mod in mods:
            if not isinstance(mod, dict) or not isinstance(mod.get("queryId"), int):
                raise ProtocolError("a query set modification needs a numeric queryId")
            query_id = mod["queryId"]
            if mod.get("type") == "Add":
                path = mod.get("udfPath")
                if not isinstance(path, str):
                    raise ProtocolError("Add needs a udfPath")
                if len(self._subs) + len(adds) >= self._settings.max_queries:
                    out.append(_failed(query_id, "too many subscriptions on this connection"))
                    continue
                try:
                    args = _args(mod.get("args"))
                    self._limiter.check(self._identity, self._address)
                except (ArgumentValidationError, RateLimitExceeded) as exc:
                    out.append(_failed(query_id, str(exc)))
                    continue
                adds.append((query_id, canonical_path(path), args, self._identity))
            elif mod.get("type") == "Remove":
                sub = self._subs.pop(query_id, None)
                self._query_specs.pop(query_id, None)
                if sub is not None:
                    self._manager.unsubscribe(sub)
                out.append(f'{{"type":"QueryRemoved","queryId":{query_id}}}')
            else:
                raise ProtocolError(f"unknown query set modification {mod.get('type')!r}")
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
        self._outbox.put_nowait(_Outgoing(transition_ts=ts, modifications=out, query_set=new))

    # --- auth --------------------------------------------------------------------------

    async def _authenticate(self, message: dict[str, Any]) -> None:
        base = message.get("baseVersion")
        if not isinstance(base, int):
            raise ProtocolError("Authenticate needs a numeric baseVersion")
        token_type = message.get("tokenType")
        try:
            if token_type == "User":
                identity = self._runtime.auth.verify_user(str(message.get("value", "")))
            elif token_type == "Admin":
                identity = self._runtime.auth.verify_admin(str(message.get("value", "")))
            elif token_type == "None":
                identity = ANONYMOUS
            else:
                raise ProtocolError(f"unknown tokenType {token_type!r}")
        except UnauthorizedError as exc:
            self._outbox.put_nowait(
                _Outgoing(
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
        requery = [(qid, path, args, identity) for qid, (path, args) in self._query_specs.items()]
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
        self._outbox.put_nowait(_Outgoing(transition_ts=ts, modifications=mods, identity=base + 1))

    # --- mutations and actions ---------------------------------------------------------

    async def _mutate_forever(self) -> None:
        """Mutations of one client run one at a time, in the order it sent them."""
        while (message := await self._mutations.get()) is not None:
            await self._mutation(message)

    async def _mutation(self, message: dict[str, Any]) -> None:
        request_id = message.get("requestId")
        if not isinstance(request_id, int):
            self._outbox.put_nowait(_Outgoing({"type": "FatalError", "error": "no requestId"}))
            return
        cached = self._deduper.get(self._session, request_id) if self._session else None
        if cached is not None:
            response, ts = cached
        else:
            response, ts = await self._run_mutation(request_id, message)
            if self._session:
                self._deduper.put(self._session, request_id, (response, ts))
        self._outbox.put_nowait(_Outgoing(response))
        if ts:
            with contextlib.suppress(TimeoutError):
                await self._manager.settled(ts)
        # Always follow with a Transition reaching the mutation's ts: the client's promise
        # resolves only on one, even when no query changed.
        self._outbox.put_nowait(_Outgoing(transition_ts=ts))

    async def _run_mutation(self, request_id: int, message: dict[str, Any]) -> tuple[dict, int]:
        try:
            self._limiter.check(self._identity, self._address)
            path = canonical_path(str(message.get("udfPath", "")))
            outcome = await self._runtime.mutation(path, _args(message.get("args")), self._identity)
            value = wire.encode(outcome.value)
        except Exception as exc:
            return _failure("MutationResponse", request_id, exc), 0
        return (
            {
                "type": "MutationResponse",
                "requestId": request_id,
                "success": True,
                "result": value,
                "ts": wire.encode_u64(outcome.ts),
                "logLines": [],
            },
            outcome.ts,
        )

    async def _action(self, message: dict[str, Any]) -> None:
        request_id = message.get("requestId")
        try:
            self._limiter.check(self._identity, self._address)
            path = canonical_path(str(message.get("udfPath", "")))
            value = await self._runtime.action(path, _args(message.get("args")), self._identity)
            reply = {
                "type": "ActionResponse",
                "requestId": request_id,
                "success": True,
                "result": wire.encode(value),
                "logLines": [],
            }
        except Exception as exc:
            reply = _failure("ActionResponse", request_id, exc)
        self._outbox.put_nowait(_Outgoing(reply))


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
        return wire.decode(raw)
    except wire.WireFormatError as exc:
        raise ArgumentValidationError(f"invalid arguments: {exc}") from None


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
