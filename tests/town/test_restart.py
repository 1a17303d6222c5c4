"""Kill the server with SIGKILL mid-run and start it again: no acknowledged input is lost,
and the world steps again at once, at any time scale."""

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import call_api, free_port, wait_for, wait_healthy


def start_server(tmp_path, port, database, env=None):
    log = open(tmp_path / f"server-{port}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smalltown.cli",
            "run",
            "--port",
            str(port),
            "--database",
            f"sqlite:///{tmp_path}/town.db",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SMALLTOWN_APP": "smalltown.town", **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc)
    return proc, url


def wait_result(url, input_id, timeout=20):
    return wait_for(
        lambda: call_api(url, "query", "aiTown/main:inputStatus", {"inputId": input_id}),
        f"input {input_id} to be processed",
        timeout,
        interval=0.1,
    )


@pytest.mark.timeout(180)
def test_acknowledged_inputs_survive_sigkill(tmp_path, store_url):
    port = free_port()
    proc, url = start_server(tmp_path, port, store_url)
    try:
        status = call_api(url, "query", "world:defaultWorldStatus", {})
        world_id, engine_id = status["worldId"], status["engineId"]
        joined = call_api(
            url,
            "mutation",
            "world:joinWorld",
            {"worldId": world_id, "name": "Ada", "character": "f1"},
        )
        me = wait_result(url, joined["inputId"])["value"]
        acknowledged = []
        for x in (5.0, 20.0, 30.0):
            input_id = call_api(
                url,
                "mutation",
                "world:sendWorldInput",
                {
                    "engineId": engine_id,
                    "name": "moveTo",
                    "args": {"playerId": me, "destination": {"x": x, "y": 15.0}},
                },
                joined["token"],
            )
            acknowledged.append((input_id, wait_result(url, input_id)))
        before = call_api(url, "query", "world:worldState", {"worldId": world_id})
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    proc, url = start_server(tmp_path, port, store_url)
    try:
        for input_id, result in acknowledged:
            assert (
                call_api(url, "query", "aiTown/main:inputStatus", {"inputId": input_id}) == result
            )
        after = call_api(url, "query", "world:worldState", {"worldId": world_id})
        assert after["engine"]["processedInputNumber"] >= before["engine"]["processedInputNumber"]
        player = next(p for p in after["world"]["players"] if p["id"] == me)
        assert player["human"] == joined["tokenIdentifier"]
        # The world carries on: a new input after the restart is processed too.
        again = call_api(
            url,
            "mutation",
            "world:sendWorldInput",
            {
                "engineId": engine_id,
                "name": "moveTo",
                "args": {"playerId": me, "destination": None},
            },
            joined["token"],
        )
        assert wait_result(url, again)["kind"] == "ok"
        statuses = call_api(url, "query", "world:defaultWorldStatus", {})
        assert statuses["worldId"] == world_id  # no second default world
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.timeout(180)
def test_a_restarted_server_steps_its_world_at_once_at_a_high_time_scale(tmp_path, store_url):
    port, fast = free_port(), {"SMALLTOWN_TIME_SCALE": "100"}
    proc, url = start_server(tmp_path, port, store_url, fast)

    def engine_time():
        status = call_api(url, "query", "world:defaultWorldStatus", {})
        state = call_api(url, "query", "world:worldState", {"worldId": status["worldId"]})
        return state["engine"]["currentTime"]

    try:  # game time runs ahead of the wall clock: two wall seconds are 200 game seconds
        wait_for(lambda: engine_time() - time.time() * 1000 > 150_000, "game time to run ahead")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    proc, url = start_server(tmp_path, port, store_url, fast)
    try:
        stored = engine_time()
        # Neither the dead process's lease nor the new clock's late start holds it back.
        wait_for(lambda: engine_time() > stored, "the world to step again", timeout=2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
