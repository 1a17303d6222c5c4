"""Running a coroutine up to its first wait: now when it never waits, in a task when it does."""

import asyncio

import pytest

from smalltown.server.eager import start_eagerly


async def test_a_coroutine_that_never_waits_finishes_on_the_spot():
    done = []

    async def send():
        done.append("sent")

    assert start_eagerly(send()) is None
    assert done == ["sent"]  # no turn of the event loop was needed


async def test_one_that_waits_finishes_in_a_task_with_its_result():
    gate = asyncio.get_running_loop().create_future()
    steps = []

    async def send():
        steps.append("started")
        value = await gate
        steps.append(f"resumed with {value}")
        return value * 2

    task = start_eagerly(send())
    assert task is not None and steps == ["started"]
    gate.set_result(21)
    assert await asyncio.wait_for(task, 5) == 42
    assert steps == ["started", "resumed with 21"]


async def test_an_error_raised_at_once_reaches_the_caller():
    async def send():
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError, match="gone"):
        start_eagerly(send())


async def test_an_error_while_waiting_is_thrown_into_the_coroutine():
    gate = asyncio.get_running_loop().create_future()

    async def send():
        try:
            await gate
        except ValueError as exc:
            return f"handled {exc}"
        return "not reached"

    task = start_eagerly(send())
    gate.set_exception(ValueError("late"))
    assert await asyncio.wait_for(task, 5) == "handled late"


async def test_cancelling_the_task_cancels_the_coroutine():
    gate = asyncio.get_running_loop().create_future()
    cleaned = []

    async def send():
        try:
            await gate
        finally:
            cleaned.append(True)

    task = start_eagerly(send())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]


async def test_a_bare_yield_gives_the_loop_a_turn():
    async def send():
        await asyncio.sleep(0)
        return "after a turn"

    task = start_eagerly(send())
    assert task is not None
    assert await asyncio.wait_for(task, 5) == "after a turn"
