"""Process roles: a web-only process, a runner and a worker (``smalltown run --role``) on one
PostgreSQL and Redis make one town: the world steps in the runner and its live queries
reach the web process's sockets, agents talk through the (fake) LLM from the worker; when
the runner is killed another runner takes its world over, and when the worker is killed
agents talk on through another worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_sync import Client

from fake_llm import FakeLLM, FakeLLMServer
from smalltown.town.schema import open_town_store

from helpers import eventually, free_port, wait_healthy


class Process:
    """``smalltown run --role ROLE`` of the town in a child process."""

    def __init__(self, tmp_path: Path, role: str, database: str, redis: str, llm: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = tmp_path / f"{role}-{self.port}.log"
        env = {
            **os.environ,
            "SMALLTOWN_APP": "smalltown.town",
            "SMALLTOWN_REDIS_URL": redis,
            "SMALLTOWN_EMBEDDINGS": "hashed",
            "SMALLTOWN_TIME_SCALE": "60",  # residents meet and talk soon
            "LLM_API_URL": f"{llm}/v1",
            "LLM_MODEL": "chatty",
        }
        command = ["smalltown.cli", "run", "--port", str(self.port), "--database", database]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *command, "--role", role],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_healthy(self.url, self.proc, log=self.log)

    def jobs_run(self) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return float(re.search(r"^smalltown_scheduled_jobs_run (\S+)$", text, re.M)[1])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


@pytest.mark.timeout(180)
async def test_a_web_a_runner_and_a_worker_make_one_town(tmp_path, postgres_url, redis_server):
    fake = FakeLLM()
    fake.default_reply = "Good morning from the worker."
    started: list[Process] = []

    def start(role: str) -> Process:
        started.append(Process(tmp_path, role, postgres_url, redis_server.url, llm.url))
        return started[-1]

    async with FakeLLMServer(fake) as llm:
        try:
            web = start("web")
            health = httpx.get(f"{web.url}/health", timeout=10).json()
            assert health["roles"] == ["web"] and "scheduler" not in health
            status = httpx.post(
                f"{web.url}/api/query",
                json={"path": "world:defaultWorldStatus", "args": {}},
                timeout=10,
            ).json()["value"]
            watcher = await Client.connect(web)
            first = await watcher.add(1, "world:worldState", {"worldId": status["worldId"]})
            assert first is not None

            runner, worker = start("runner"), start("worker")
            # A worker yields the CPU to the rest: its work waits on the LLM anyway.
            here = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == min(19, here + 10)
            assert os.getpriority(os.PRIO_PROCESS, runner.proc.pid) == here
            assert httpx.post(f"{runner.url}/api/query", json={}, timeout=10).status_code == 404
            assert httpx.get(f"{runner.url}/health", timeout=10).json()["roles"] == ["runner"]

            # The runner's steps reach the web process's live query (through Redis).
            start_time = watcher.results[1]["engine"]["currentTime"]
            await watcher.transition_where(
                lambda _: watcher.results[1]["engine"]["currentTime"] > start_time, timeout=30
            )

            # Agents talk: the worker runs their operations and calls the LLM.
            store = await open_town_store(postgres_url)
            try:

                async def spoken():
                    messages = await store.read(lambda tx: tx.query("messages"))
                    return [m for m in messages if m["text"] == fake.default_reply]

                await eventually(spoken, "a resident to say the LLM's line", 90, 0.2)
                await eventually(lambda: worker.jobs_run() > 0, "the worker to count its jobs")
                assert web.jobs_run() == 0 and runner.jobs_run() == 0

                # Another runner takes the world over when this one is killed.
                second = start("runner")
                runner.stop(signal.SIGKILL)

                async def held_by_the_second():
                    lease = await store.read(lambda tx: tx.first("smalltownLeases"))
                    return lease["owner"].split(":")[1] == str(second.proc.pid)

                await eventually(held_by_the_second, "the second runner to take the world", 30)

                def world_row(tx):  # its step count
                    return tx.first("smalltownWorlds", "worldId", eq={"worldId": status["worldId"]})

                before = await store.read(world_row)

                async def stepped_again():
                    now = await store.read(world_row)
                    return now["step"] > before["step"]

                await eventually(stepped_again, "the world to step under the second runner", 30)

                # A killed worker's place is taken by another: agents talk on through it.
                said = len(await spoken())
                worker.stop(signal.SIGKILL)
                other_worker = start("worker")

                async def spoken_again():
                    return len(await spoken()) > said

                await eventually(spoken_again, "a resident to speak through the new worker", 90)
                await eventually(lambda: other_worker.jobs_run() > 0, "the new worker's jobs")
            finally:
                await store.close()
            await watcher.ws.close()
        finally:
            for process in started:
                process.stop(signal.SIGKILL)
