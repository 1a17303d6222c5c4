"""The hand-off between the check pass and the writer ends cleanly whichever side stops."""

import asyncio
import threading

import pytest

from smalltown.migrate.handoff import Handoff, Stopped


async def test_a_cancelled_writer_leaves_no_thread_waiting_for_a_batch():
    handoff = Handoff()
    before = threading.active_count()
    taking = asyncio.ensure_future(anext(handoff.batches()))
    await asyncio.sleep(0.2)  # the writer waits for a batch in a thread of its own
    assert threading.active_count() > before
    taking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await taking
    handoff.stop()
    loop = asyncio.get_running_loop()
    # What asyncio.run does on the way out: it must not wait for ever.
    await asyncio.wait_for(loop.shutdown_default_executor(), timeout=5)


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
