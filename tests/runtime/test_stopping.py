"""Stopping tasks is bounded: a task that swallows its cancel (as ``asyncio.wait_for``
can on Python 3.11) is cancelled again, and one that never ends is left behind after the
bound, said in the log, rather than holding the stop for ever."""

import asyncio
import logging
import time

from smalltown.runtime.stopping import stop_tasks


async def _swallows(times: float, ended: list[str], released=None) -> None:
    """Swallow the first ``times`` cancels (all of them until ``released`` is set)."""
    swallowed = 0
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed += 1
            if swallowed > times or (released is not None and released.is_set()):
                ended.append("stopped")
                raise


async def test_a_task_that_swallows_a_cancel_is_cancelled_again():
    ended: list[str] = []
    task = asyncio.create_task(_swallows(1, ended))
    await asyncio.sleep(0)
    assert await stop_tasks([task, None], "the test", seconds=5)
    assert ended == ["stopped"] and task.cancelled()


async def test_a_task_that_never_ends_is_left_behind_after_the_bound(caplog):
    caplog.set_level(logging.WARNING, logger="smalltown.runtime")
    ended: list[str] = []
    released = asyncio.Event()
    stubborn = asyncio.create_task(_swallows(float("inf"), ended, released))
    polite = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    started = time.monotonic()
    assert not await stop_tasks([stubborn, polite], "the test", seconds=0.3)
    assert time.monotonic() - started < 2
    assert polite.cancelled() and not stubborn.done()
    assert "the test: 1 task(s) did not stop within 0.3 s" in caplog.text
    released.set()  # (the test's own end)
    assert await stop_tasks([stubborn], "the test")
