"""Mutation replies remembered for replays: a client that reconnects and sends again a
mutation it had no reply to gets the reply of the one run, and nothing runs twice.

Convex's Node client keeps its ``sessionId`` across reconnects and, after ``Connect``,
replays its auth and then every unanswered mutation under the same ``requestId`` (the
Python client takes a new sessionId per socket, so it never replays into this). A reply
is given again only for the same call from the same client: the same sessionId, the
same identity (the client authenticates again before it replays), the same requestId,
and the same function and arguments. Another connection that presents someone's
sessionId as another identity, or with another call, runs its own mutation. (Clients
with no auth share the anonymous identity; among them the sessionId, a random UUID the
client never shows anyone, and the exact call are what tell them apart.)

A replay that arrives while the first run is still going (the server has not yet seen
the old socket drop) waits for that run, which goes on to its end even if its own
socket is gone.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

#: Clients (sessionId and identity) whose replies are kept, the most recently seen.
DEDUPE_SESSIONS = 10_000
#: Replies kept per client, its latest requests.
DEDUPE_PER_SESSION = 256
#: Bytes of reply text kept in all (each reply also counted 256 bytes of bookkeeping).
DEDUPE_MAX_BYTES = 32 << 20
_ENTRY_OVERHEAD = 256

Reply = tuple[str, int]  # the MutationResponse's JSON text, and the mutation's ts (0 if failed)
Client = tuple[str, str]  # (sessionId, identity key)


def fingerprint(path: str, args: Any) -> bytes:
    """What makes two Mutation messages the same call: the function and its arguments
    (keys in any order), as the client sent them."""
    text = json.dumps([path, args], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@dataclass
class _Entry:
    fingerprint: bytes
    reply: asyncio.Future[Reply]
    size: int = 0


class MutationDeduper:
    def __init__(
        self,
        max_sessions: int = DEDUPE_SESSIONS,
        per_session: int = DEDUPE_PER_SESSION,
        max_bytes: int = DEDUPE_MAX_BYTES,
    ) -> None:
        self._max_sessions = max_sessions
        self._per_session = per_session
        self._max_bytes = max_bytes
        self.bytes = 0
        self._clients: collections.OrderedDict[Client, collections.OrderedDict[int, _Entry]] = (
            collections.OrderedDict()
        )

    async def run_once(
        self,
        client: Client,
        request_id: int,
        call: bytes,
        run: Callable[[], Awaitable[Reply]],
    ) -> Reply:
        """The reply to ``client``'s request ``request_id``: the one remembered if it
        was the same ``call`` (a :func:`fingerprint`), else ``run()``'s, remembered."""
        entries = self._clients.get(client)
        entry = entries.get(request_id) if entries is not None else None
        if entry is not None and entry.fingerprint == call:
            self._clients.move_to_end(client)
            return await asyncio.shield(entry.reply)
        # The run is a task of its own: it ends, and is remembered, even if the
        # connection that asked is closed meanwhile; a replay then gets its reply.
        task = asyncio.ensure_future(run())
        entry = _Entry(call, task)
        self._remember(client, request_id, entry)
        task.add_done_callback(lambda _: self._settled(client, request_id, entry))
        return await asyncio.shield(task)

    def _remember(self, client: Client, request_id: int, entry: _Entry) -> None:
        entries = self._clients.setdefault(client, collections.OrderedDict())
        self._clients.move_to_end(client)
        replaced = entries.pop(request_id, None)
        if replaced is not None:
            self.bytes -= replaced.size
        entries[request_id] = entry
        while len(entries) > self._per_session:
            _, dropped = entries.popitem(last=False)
            self.bytes -= dropped.size
        self._trim()

    def _settled(self, client: Client, request_id: int, entry: _Entry) -> None:
        entries = self._clients.get(client)
        if entries is None or entries.get(request_id) is not entry:
            return  # dropped or replaced meanwhile
        if entry.reply.cancelled() or entry.reply.exception() is not None:
            del entries[request_id]  # no reply to give again: a replay runs anew
            return
        entry.size = len(entry.reply.result()[0]) + _ENTRY_OVERHEAD
        self.bytes += entry.size
        self._trim()

    def _trim(self) -> None:
        """Forget the clients seen longest ago, past the bounds on clients and bytes."""
        while self._clients and (
            len(self._clients) > self._max_sessions or self.bytes > self._max_bytes
        ):
            _, entries = self._clients.popitem(last=False)
            self.bytes -= sum(e.size for e in entries.values())
