"""Chaos: a server under a steady stream of player inputs (``world:sendWorldInput`` over
HTTP) is SIGKILLed and started again several times, and on PostgreSQL (a private cluster,
so its restart disturbs no other test) its database is restarted once. Afterwards every
input the server acknowledged was processed exactly once (each has its result, every step
is recorded once, and the steps' input ranges follow each other without overlap), and
``smalltown replay`` rebuilds the stored world exactly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smalltown.town.schema import open_town_store

from helpers import PasswordPostgres, call_api, eventually, free_port, wait_healthy

KILLS = 3


class Server:
    """``smalltown run`` of the town on one port, killed and started again at will."""

    def __init__(self, tmp_path: Path, database: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = database
        self.log = tmp_path / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "SMALLTOWN_APP": "smalltown.town", "SMALLTOWN_EMBEDDINGS": "hashed"}
        command = ["smalltown.cli", "run", "--port", str(self.port), "--database", self.database]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *command], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        wait_healthy(self.url, self.proc, log=self.log)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


class Stream:
    """Player inputs sent one after another; ``acknowledged`` holds the id of each one the
    server answered with success. A call that fails (the server is down, the database
    away) is not acknowledged, and the next is sent a moment later."""

    def __init__(self, server: Server, engine_id: str, player_id: str, token: str) -> None:
        self.server, self.engine_id, self.player_id = server, engine_id, player_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acknowledged: list[str] = []
        self.refused = 0
        self._stop = asyncio.Event()
        self.task = asyncio.create_task(self._send_forever())

    async def _send_forever(self) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            n = 0
            while not self._stop.is_set():
                n += 1
                args = {"playerId": self.player_id, "destination": {"x": 5 + n % 20, "y": 15}}
                body = {
                    "path": "world:sendWorldInput",
                    "args": {"engineId": self.engine_id, "name": "moveTo", "args": args},
                }
                try:
                    reply = await http.post(
                        f"{self.server.url}/api/mutation", json=body, headers=self.headers
                    )
                    answer = reply.json()
                except (httpx.TransportError, ValueError):
                    answer = None
                if answer is not None and answer.get("status") == "success":
                    self.acknowledged.append(answer["value"])
                else:
                    self.refused += 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), 0.05)

    async def more(self, count: int = 5) -> None:
        """Wait until ``count`` more inputs are acknowledged."""
        target = len(self.acknowledged) + count
        await eventually(lambda: len(self.acknowledged) >= target, "inputs acknowledged", 60)

    async def stop(self) -> None:
        self._stop.set()
        await self.task


@pytest.fixture
def cluster() -> Iterator[PasswordPostgres]:
    server = PasswordPostgres("chaos").start()
    yield server
    server.remove()


@pytest.fixture(params=["postgres", "sqlite"])
def database(request, tmp_path) -> Iterator[tuple[str, PasswordPostgres | None]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/town.db", None
    else:
        cluster = request.getfixturevalue("cluster")
        yield cluster.url(), cluster


@pytest.mark.timeout(300)
async def test_acknowledged_inputs_are_processed_exactly_once_through_kills_and_restarts(
    tmp_path, database
):
    url, cluster = database
    server = Server(tmp_path, url)
    await asyncio.to_thread(server.start)
    try:
        status = call_api(server.url, "query", "world:defaultWorldStatus", {})
        world_id, engine_id = status["worldId"], status["engineId"]
        joined = call_api(
            server.url,
            "mutation",
            "world:joinWorld",
            {"worldId": world_id, "name": "Ada", "character": "f1"},
        )

        def joined_result():
            found = call_api(
                server.url, "query", "aiTown/main:inputStatus", {"inputId": joined["inputId"]}
            )
            return found and found["value"]

        player_id = await eventually(joined_result, "the player to join", 30)
        stream = Stream(server, engine_id, player_id, joined["token"])
        await stream.more(10)
        for kill in range(KILLS):
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.start)
            await stream.more(10)
            if cluster is not None and kill == 1:  # the database goes away and comes back
                await asyncio.to_thread(cluster.stop)
                await asyncio.to_thread(cluster.start)
                await stream.more(10)
        await stream.stop()
        assert stream.refused > 0  # (the chaos was felt)
        print(f"\n{len(stream.acknowledged)} inputs acknowledged, {stream.refused} refused")

        async def all_processed():
            async with httpx.AsyncClient(timeout=30) as http:
                for input_id in stream.acknowledged[-3:]:
                    reply = await http.post(
                        f"{server.url}/api/query",
                        json={"path": "aiTown/main:inputStatus", "args": {"inputId": input_id}},
                    )
                    if reply.json().get("value") is None:
                        return False
            return True

        await eventually(all_processed, "the last acknowledged inputs to be processed", 30)
    finally:
        await asyncio.to_thread(server.kill, signal.SIGTERM)

    store = await open_town_store(url)
    try:
        inputs = await store.read(
            lambda tx: tx.query("inputs", "byInputNumber", eq={"engineId": engine_id})
        )
        engine = await store.read(lambda tx: tx.get(engine_id, table="engines"))
        own = await store.read(
            lambda tx: tx.first("smalltownWorlds", "worldId", eq={"worldId": world_id})
        )
        steps = await store.read(
            lambda tx: tx.query("smalltownSteps", "worldStep", eq={"worldId": world_id})
        )
    finally:
        await store.close()
    numbers = [int(i["number"]) for i in inputs]
    assert len(numbers) == len(set(numbers))  # no input stored twice
    processed = int(engine["processedInputNumber"])
    by_id = {i["_id"]: i for i in inputs}
    for input_id in stream.acknowledged:  # every acknowledged input has its one result
        assert input_id in by_id, f"acknowledged input {input_id} is lost"
        assert by_id[input_id]["number"] <= processed
        assert by_id[input_id].get("returnValue") is not None, by_id[input_id]
    for item in inputs:  # ... and nothing past the engine's cursor has one
        assert (item.get("returnValue") is not None) == (item["number"] <= processed), item
    # Each step recorded once, one after another, each taking the inputs after the last
    # one its predecessor took: no input was taken by two steps.
    assert [int(s["step"]) for s in steps] == list(range(len(steps)))
    last_inputs = [int(s["lastInput"]) for s in steps]
    assert last_inputs == sorted(last_inputs) and last_inputs[-1] == processed
    assert int(own["step"]) == len(steps)

    replay = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", "replay", world_id, "--database", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "the replayed world equals the stored one" in replay.stdout
    assert f"{len(steps)} steps" in replay.stdout
