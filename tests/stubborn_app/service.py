"""The stubborn app's service: a task that swallows every cancel, and a close that forgets
it."""

import asyncio
import contextlib


async def _stubborn() -> None:
    while True:
        with contextlib.suppress(asyncio.CancelledError):  # as if the cancel never came
            await asyncio.sleep(3600)


class Service:
    def __init__(self) -> None:
        self.task = asyncio.create_task(_stubborn(), name="stubborn")

    async def close(self) -> None:
        pass


async def start(runtime, config) -> Service:
    return Service()
