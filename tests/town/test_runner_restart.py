"""A runner started on a database another runner used takes its worlds up at once: game
time continues from the stored engine time at any time scale, and the leases of a killed
predecessor on this host are taken back without waiting them out, by a runner started
after it died or one that was running beside it."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

from smalltown.runtime import Registry, Runtime
from smalltown.store import open_store
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.schema import schema
from smalltown.worlds import runner as runner_module
from smalltown.worlds.creation import create_world
from smalltown.worlds.runner import LEASE_MS, WorldRunner, _gone, now_ms

SCALE = 10_000  # a one-second step is a tenth of a wall millisecond


async def engine_time(store) -> float:
    engine = await store.read(lambda tx: tx.first("engines"))
    return engine["currentTime"]


async def rounds_until_stepped(runner: WorldRunner, limit: int) -> int:
    """Passes of ``runner`` over the worlds until it stepped one (``limit`` + 1 if none)."""
    for count in range(1, limit + 1):
        if await runner.run_due():
            return count
        await asyncio.sleep(0)
    return limit + 1


async def test_a_restarted_runner_continues_the_game_clock_at_a_high_time_scale(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/restart.db")
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        await create_world(store, town_map(), CHARACTERS)
        before = WorldRunner(runtime, time_scale=SCALE, on_operations=lambda w, o: None)
        # Run until game time is an hour ahead of the wall clock (a third of a wall second).
        while await engine_time(store) - now_ms() < 3_600_000:
            await before.run_due()
        await before.close()
        assert before.steps > 0

        after = WorldRunner(runtime, time_scale=SCALE, on_operations=lambda w, o: None)
        ahead = await engine_time(store)
        # A step of game time is a tenth of a wall millisecond: the world is due at once,
        # not once the new runner's clock has caught up with the hour.
        assert await rounds_until_stepped(after, 5) <= 5
        assert await engine_time(store) > ahead  # continued from the stored time
        assert await engine_time(store) - ahead < 3_600_000  # no hour skipped
    finally:
        await store.close()


PREDECESSOR = textwrap.dedent(
    """
    import asyncio, sys
    from smalltown.runtime import Registry, Runtime
    from smalltown.store import open_store
    from smalltown.town.schema import schema
    from smalltown.worlds.runner import WorldRunner

    async def main():
        store = await open_store(sys.argv[1])
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        runner = WorldRunner(runtime, step_ms=100, on_operations=lambda w, o: None)
        while not runner.steps:
            await runner.run_due()
            await asyncio.sleep(0.02)
        print(runner.owner, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_a_killed_predecessors_leases_are_taken_back_at_once(tmp_path):
    url = f"sqlite:///{tmp_path}/killed.db"
    store = await open_store(url)
    proc = None
    try:
        runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
        await create_world(store, town_map(), CHARACTERS)
        proc = subprocess.Popen(
            [sys.executable, "-c", PREDECESSOR, url], stdout=subprocess.PIPE, text=True
        )
        owner = proc.stdout.readline().strip()  # it holds the world and has stepped it
        assert owner, "the predecessor did not start"

        def runner():
            return WorldRunner(runtime, step_ms=100, on_operations=lambda w, o: None)

        # While it lives, the world is its own: nobody else steps it.
        neighbour = runner()
        assert await neighbour.run_due() == 0
        lease = await store.read(lambda tx: tx.first("smalltownLeases"))
        assert lease["owner"] == owner

        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # A runner that saw the lease held sees its holder gone, without waiting it out.
        started = time.monotonic()
        while not neighbour.steps:
            await neighbour.run_due()
            await asyncio.sleep(0.02)
            assert time.monotonic() - started < LEASE_MS / 3000, "waited out the dead lease"
        await neighbour.close()  # (hands the world on)

        proc = subprocess.Popen(
            [sys.executable, "-c", PREDECESSOR, url], stdout=subprocess.PIPE, text=True
        )
        owner = proc.stdout.readline().strip()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        successor = runner()  # a runner started after the kill takes it at once too
        started = time.monotonic()
        while not successor.steps:
            await successor.run_due()
            await asyncio.sleep(0.02)
            assert time.monotonic() - started < LEASE_MS / 3000, "waited out the dead lease"
        lease = await store.read(lambda tx: tx.first("smalltownLeases"))
        assert lease["owner"] == successor.owner
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        await store.close()


def test_only_a_gone_process_of_this_host_and_pid_namespace_counts_as_gone():
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # (reaped: its pid names no process now)
    here = socket.gethostname()
    namespace = runner_module._NAMESPACE
    assert namespace, "this test needs Linux's /proc"
    assert _gone(f"{here}:{ended.pid}:abcd1234.{namespace}")
    assert not _gone(f"{here}:{ended.pid}:abcd1234.{namespace}1")  # another container
    assert not _gone(f"elsewhere:{ended.pid}:abcd1234.{namespace}")  # another host
    assert not _gone(f"{here}:{ended.pid}:abcd1234")  # an owner without its namespace
    assert not _gone(f"{here}:{os.getpid()}:abcd1234.{namespace}")  # this very process
