"""The hand-off between the check pass and the writer ends cleanly whichever side stops."""

import asyncio
import contextlib
import queue
import threading

import pytest

from smalltown.migrate.handoff import Handoff, Stopped


class _NotingQueue(queue.Queue):
    """A queue that says when a thread comes to wait on it."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.taking = threading.Event()

    def get(self, block: bool = True, timeout: float | None = None):
        if block:
            self.taking.set()
        return super().get(block, timeout)


def test_a_cancelled_writer_leaves_no_thread_waiting_for_a_batch():
    async def writer_cancelled_while_waiting() -> None:
        handoff = Handoff()
        handoff._queue = noting = _NotingQueue(handoff._queue.maxsize)
        taking = asyncio.ensure_future(anext(handoff.batches()))
        # The writer waits for a batch, in a thread of its own.
        await asyncio.to_thread(noting.taking.wait, 10)
        assert noting.taking.is_set(), "the writer never came to wait for a batch"
        taking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await taking
        handoff.stop()

    finished = threading.Event()

    def run() -> None:
        # asyncio.run waits for its threads on the way out, as the CLI's would.
        asyncio.run(writer_cancelled_while_waiting())
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(10), "the event loop could not close: a thread still waits"


def test_a_checker_blocked_on_a_full_hand_off_stops_with_the_writer():
    handoff = Handoff(depth=1)
    handoff.add_packed("t", b"x")
    outcome = []

    def add_more():
        try:
            handoff.add_packed("t", b"y")  # blocks: nobody takes
        except Stopped:
            outcome.append("stopped")

    thread = threading.Thread(target=add_more)
    thread.start()
    handoff.stop()
    thread.join(5)
    assert outcome == ["stopped"]
    with pytest.raises(Stopped):
        handoff.interrupt()
