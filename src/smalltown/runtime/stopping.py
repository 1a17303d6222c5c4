"""Stopping background tasks within a bound, so a server's stop never hangs on one.

Cancelling a task and awaiting it may wait for ever: on Python 3.11, ``asyncio.wait_for``
swallows a cancel that arrives as its inner wait completes (psycopg_pool's wait for a
connection is one), and the task carries on as if none came; a task may also wait on
something a cancel cannot reach. :func:`stop_tasks` cancels again while the tasks go on,
and after ``seconds`` leaves the rest behind, saying so in the log: the process stops
anyway, and whatever they held is reclaimed as after a crash (leases and heartbeats run
out).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("smalltown.runtime")
CANCEL_AGAIN_SECONDS = 0.5  # a task still running this long after a cancel gets another
STOP_SECONDS = 3.0  # how long a stop waits for tasks to end before it leaves them behind


async def stop_tasks(
    tasks: Iterable[asyncio.Task[Any] | None], what: str, seconds: float = STOP_SECONDS
) -> bool:
    """Cancel ``tasks`` (Nones skipped) and wait until they end, at most ``seconds``;
    whether they all ended. ``what`` names them in the warning when some did not."""
    pending = {t for t in tasks if t is not None and not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            log.warning(
                "%s: %d task(s) did not stop within %g s of being cancelled; left behind",
                what,
                len(pending),
                seconds,
            )
            return False
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(CANCEL_AGAIN_SECONDS, left))
    return True
