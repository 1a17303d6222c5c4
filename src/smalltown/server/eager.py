"""Run a coroutine right now, up to its first real wait, instead of in a task later.

Fanning one update out to a thousand WebSocket subscribers is a thousand sends; handing
each to its connection's sender task costs a queue, a wake-up and a trip round the event
loop per frame. An ASGI send to an open socket whose buffer has room never waits, so it
can simply run to completion where the update is delivered. When it does wait (the
client is slow and the transport paused), the rest of it continues in a task, and the
caller keeps that task to order what it sends next behind it.

(Python 3.12's eager task factory does this for every task; this is the same idea for
one call, on 3.11 too.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def start_eagerly(coro: Coroutine[Any, Any, Any]) -> asyncio.Task | None:
    """Step ``coro`` now. None if it finished (its exception, if any, is raised here);
    else the task that finishes it."""
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(coro, waiting))


async def _finish(coro: Coroutine[Any, Any, Any], waiting: Any) -> Any:
    return await _Resumed(coro, waiting)


class _Resumed:
    """Awaiting this carries on a started coroutine exactly as a task would have: what it
    yielded (the future it waits on) goes to the task driving us, and what comes back
    (a value, or an exception such as a cancellation) goes into the coroutine."""

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self):
        waiting = self.waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # handed to the coroutine, as a task would
                try:
                    waiting = self.coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting = self.coro.send(sent)
                except StopIteration as done:
                    return done.value
