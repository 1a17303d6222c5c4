"""The hand-off between the check pass and the writer ends cleanly whichever side stops."""

import asyncio
import contextlib
import threading

import pytest

from smalltown.migrate.handoff import Handoff, Stopped


def test_a_cancelled_writer_leaves_no_thread_waiting_for_a_batch():
    async def writer_cancelled_while_waiting() -> None:
        handoff = Handoff()
        taking = asyncio.ensure_future(anext(handoff.batches()))
        await asyncio.sleep(0.2)  # the writer waits for a batch, in a thread of its own
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
