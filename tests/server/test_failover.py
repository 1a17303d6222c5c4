"""Failover, measured: two ``smalltown run`` processes on one PostgreSQL and Redis; the one
holding the default world's lease is SIGKILLed and started again, over and over, and each
time the time from the kill to the world's next step (taken by the other process) is
measured. Every one must be at most ``FAILOVER_BOUND`` seconds.

Each process runs in a pid namespace of its own where the machine allows it (root and
``unshare``), as two containers or two machines do: then neither can see that the other
died, and the world changes hands only when the dead process's lease runs out, the slow
way round (on one host, a dead predecessor's leases are taken back at once; see
``tests/town/test_runner_restart.py``). ``make test`` kills twice; the figure in the README
and docs/benchmarks.md is ``SMALLTOWN_FAILOVER_KILLS=10 pytest tests/server/test_failover.py
-s``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smalltown.town.schema import open_town_store
from smalltown.worlds.runner import LEASE_MS

from helpers import eventually, free_port, wait_for, wait_healthy

FAILOVER_BOUND = 10.0  # seconds, the README's promise
KILLS = int(os.environ.get("SMALLTOWN_FAILOVER_KILLS", "2"))
TESTS = Path(__file__).resolve().parents[1]


def _can_isolate() -> bool:
    """Whether processes can be started in pid namespaces of their own here (util-linux's
    unshare, with the privilege it needs)."""
    if shutil.which("unshare") is None:
        return False
    trial = ["unshare", "--pid", "--fork", "--kill-child", "true"]
    return subprocess.run(trial, capture_output=True).returncode == 0


ISOLATED = _can_isolate()


class Runner:
    """``smalltown run`` of the town in a child process, in a pid namespace of its own when
    ``ISOLATED``; it can tell whether a lease's owner names it."""

    def __init__(self, tmp_path: Path, database: str, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"server-{self.port}.log"
        command = [sys.executable, "-m", "smalltown.cli", "run", "--port", str(self.port)]
        command += ["--database", database]
        if ISOLATED:  # (killing unshare kills its child: --kill-child)
            command = ["unshare", "--pid", "--fork", "--kill-child", *command]
        env = {
            **os.environ,
            "SMALLTOWN_APP": "smalltown.town",
            "SMALLTOWN_REDIS_URL": redis_url,
            "SMALLTOWN_EMBEDDINGS": "hashed",  # a quick start: no model to load
        }
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_healthy(self.url, self.proc, log=self.log)
        self.server_pid = self._server_pid()
        self.namespace = "".join(
            c for c in os.readlink(f"/proc/{self.server_pid}/ns/pid") if c.isdigit()
        )

    def _server_pid(self) -> int:
        if not ISOLATED:
            return self.proc.pid
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return int(children.read_text().split()[0])

    def owns(self, owner: str) -> bool:
        """Whether a lease's ``owner`` (``host:pid:tag.namespace``) is this process."""
        if ISOLATED:
            return owner.rpartition(".")[2] == self.namespace
        return owner.split(":")[1] == str(self.server_pid)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        # with --kill-child the server dies with unshare; wait until it is gone
        wait_for(
            lambda: (
                not Path(f"/proc/{self.server_pid}").exists()
                or "Z" in Path(f"/proc/{self.server_pid}/stat").read_text().split()[2]
            ),
            f"server process {self.server_pid} to die",
        )


@pytest.mark.timeout(120 + 25 * KILLS)
async def test_a_killed_runners_world_steps_again_elsewhere_within_ten_seconds(
    tmp_path, postgres_url, redis_server
):
    assert LEASE_MS / 1000 < FAILOVER_BOUND
    running = [Runner(tmp_path, postgres_url, redis_server.url)]
    store = await open_town_store(postgres_url)
    try:

        async def state():
            lease = await store.read(lambda tx: tx.first("smalltownLeases"))
            engine = await store.read(lambda tx: tx.first("smalltownWorlds"))  # step count
            return lease, engine

        async def stepping_under_one_of_them():
            lease, engine = await state()
            if lease is None or engine is None or engine.get("step", 0) < 2:
                return None
            holder = [r for r in running if r.owns(lease["owner"])]
            return (holder[0], engine["step"]) if holder else None

        await eventually(stepping_under_one_of_them, "the world to step", 30)
        running.append(Runner(tmp_path, postgres_url, redis_server.url))
        logs = [r.log for r in running]
        took: list[float] = []
        for _ in range(KILLS):
            holder, _ = await eventually(
                stepping_under_one_of_them, "one of the two to hold and step the world", 30
            )
            other = next(r for r in running if r is not holder)
            started = time.monotonic()
            holder.kill()
            _, engine = await state()  # the last step the killed process saved

            async def stepped_by_the_other(other=other, last=engine["step"]):
                lease, engine = await state()
                return other.owns(lease["owner"]) and engine["step"] > last

            await eventually(stepped_by_the_other, "the other process to step the world", 30)
            took.append(time.monotonic() - started)
            running.remove(holder)
            running.append(Runner(tmp_path, postgres_url, redis_server.url))
            logs.append(running[-1].log)
        shown = ", ".join(f"{t:.1f}" for t in took)
        way = "separate pid namespaces" if ISOLATED else "one pid namespace"
        print(f"\nfailover over {KILLS} kills ({way}): max {max(took):.1f} s; each: {shown}")
        assert max(took) <= FAILOVER_BOUND, took
        if ISOLATED:  # the lease had to run out: the measurement is of the slow way
            assert any("taken over from a runner that stopped" in log.read_text() for log in logs)
    finally:
        for runner in running:
            runner.kill()
        await store.close()
