"""compose.yaml's topology run natively: Debian's nginx with the repository's proxy
configuration in front of two web `smalltown run` processes, with a runner and a worker
beside them, on one PostgreSQL database and one Redis, each configured with the
environment compose.yaml gives its container.

What differs from the containers is only where things are: loopback ports instead of the
service names (tests/deploy/deployment.py says how each is swapped). The clients speak to
the proxy as a browser would: HTTP, and the sync WebSocket through it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import convex
import httpx
import pytest
from deployment import (
    APP_SERVICES,
    BACKGROUND_SERVICES,
    LiveQuery,
    NativeProxy,
    SmalltownProcess,
    call,
    environment,
    initialise_database,
    native_app_environment,
    proxy_templates,
    resolve_compose,
)

from helpers import RedisServer, free_port

pytestmark = pytest.mark.slow


@dataclass
class Topology:
    proxy: NativeProxy
    apps: list[SmalltownProcess]  # the web processes, then the runner and the worker
    database_url: str
    environments: dict[str, dict[str, str]]  # each service's, as started here


def _within(seconds: float, work: Callable[[], Any]) -> Any:
    """``work()`` on a thread, waited for at most ``seconds``: the official client's calls
    block with no timeout of their own."""
    answers: Queue[tuple[bool, Any]] = Queue()

    def run() -> None:
        try:
            answers.put((True, work()))
        except BaseException as exc:
            answers.put((False, exc))

    threading.Thread(target=run, daemon=True).start()
    try:
        done, value = answers.get(timeout=seconds)
    except Empty:
        raise AssertionError(f"no answer within {seconds} s") from None
    if not done:
        raise value
    return value


@pytest.fixture
def topology(tmp_path: Path, postgres_url: str) -> Iterator[Topology]:
    config = resolve_compose()
    initialise_database(config, postgres_url)  # as the database container's first start
    redis = RedisServer()
    redis.start()
    apps: list[SmalltownProcess] = []
    environments: dict[str, dict[str, str]] = {}
    proxy: NativeProxy | None = None
    try:
        for service in APP_SERVICES + BACKGROUND_SERVICES:  # together, as compose starts them
            env = native_app_environment(
                environment(config, service), postgres_url, redis.url, free_port()
            )
            environments[service] = env
            apps.append(SmalltownProcess(tmp_path, env, service))
        for app in apps:
            app.wait_healthy()
        proxy_env = environment(config, "proxy")
        compose_ports = {
            service: environment(config, service)["SMALLTOWN_PORT"] for service in APP_SERVICES
        }
        upstreams = {name: value for name, value in proxy_env.items() if "UPSTREAM" in name}
        assert len(upstreams) == len(APP_SERVICES), upstreams
        for name, value in upstreams.items():
            service, port = value.rsplit(":", 1)
            assert compose_ports[service] == port, (name, value)  # the proxy finds each app
            proxy_env[name] = f"127.0.0.1:{apps[APP_SERVICES.index(service)].port}"
        proxy_env["PROXY_LISTEN"] = str(free_port())
        proxy = NativeProxy(tmp_path, proxy_env, proxy_templates(config)).start()
        yield Topology(proxy, apps, postgres_url, environments)
    finally:
        if proxy is not None:
            proxy.stop()
        for app in apps:
            app.stop()
        redis.stop()


def _stepper(topology: Topology) -> SmalltownProcess:
    """The process whose runner holds the default world's lease (`smalltown worlds list`
    names it as host:pid:id)."""
    deadline = time.monotonic() + 30
    while True:
        listed = subprocess.run(
            [sys.executable, "-m", "smalltown.cli", "worlds", "list"],
            capture_output=True,
            text=True,
            env={**os.environ, "SMALLTOWN_DATABASE_URL": topology.database_url},
        ).stdout
        for app in topology.apps:
            if f":{app.proc.pid}:" in listed:
                return app
        assert time.monotonic() < deadline, f"no process steps the world:\n{listed}"
        time.sleep(0.2)


def test_a_town_behind_the_proxy_shares_live_queries_and_outlives_a_process(topology, tmp_path):
    proxy, (first, second, runner, _) = topology.proxy, topology.apps
    assert [app.name for app in topology.apps] == [*APP_SERVICES, *BACKGROUND_SERVICES]

    health = httpx.get(f"{proxy.url}/health", timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["store"]["provider"] == "postgres"
    assert health.json()["redis"]["listening"]
    page = httpx.get(f"{proxy.url}/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
    # The admin key was generated once, and logged by one process only.
    generated = [app for app in topology.apps if "generated an admin key" in app.output()]
    assert len(generated) == 1, [app.output() for app in topology.apps]

    # A client joins through the proxy: the official Convex client, over the sync socket.
    client = convex.ConvexClient(proxy.url)
    status = _within(30, lambda: client.query("world:defaultWorldStatus", {}))
    world = status["worldId"]
    joined = _within(
        30,
        lambda: client.mutation(
            "world:joinWorld", {"worldId": world, "name": "Ada", "character": "f1"}
        ),
    )
    with LiveQuery(proxy.ws_url, "world:worldRoster", {"worldId": world}) as roster:
        humans = roster.wait_for(
            lambda r: any(p.get("human") == joined["tokenIdentifier"] for p in r["players"])
        )["players"]
    player = next(p["id"] for p in humans if p.get("human") == joined["tokenIdentifier"])

    # A live query on one process sees a mutation made through the other, both ways.
    for watcher, writer in ((first, second), (second, first)):
        with LiveQuery(watcher.ws_url, "world:defaultWorldStatus", {}) as seen:
            seen.wait_for(lambda s: s is not None)
            before = time.time() * 1000
            call(writer.url, "mutation", "world:heartbeatWorld", {"worldId": world})
            seen.wait_for(lambda s, before=before: s["lastViewed"] >= before)

    # The runner steps the world; a web process dies: the proxy sends everything to the
    # other. The runner dies too, and is started again (compose's restart: on-failure):
    # it takes its world back and steps it on.
    assert _stepper(topology) is runner
    first.kill()
    for _ in range(4):  # both of the proxy's turns: the dead one is skipped
        assert httpx.get(f"{proxy.url}/health", timeout=10).status_code == 200
    runner.kill()
    restarted = SmalltownProcess(tmp_path, topology.environments["runner"], "runner-again")
    topology.apps.append(restarted.wait_healthy())
    with LiveQuery(proxy.ws_url, "world:worldClock", {"worldId": world}) as clock:
        start = clock.wait_for(lambda c: c is not None)["currentTime"]
        clock.wait_for(lambda c: c["currentTime"] > start, timeout=60)
    assert "taken over from a runner that stopped" in restarted.output()
    # The player who joined acts on, with her token, through the proxy.
    moved = call(
        proxy.url,
        "mutation",
        "world:sendWorldInput",
        {
            "engineId": status["engineId"],
            "name": "moveTo",
            "args": {"playerId": player, "destination": {"x": 10, "y": 10}},
        },
        token=joined["token"],
    )
    with LiveQuery(proxy.ws_url, "aiTown/main:inputStatus", {"inputId": moved}) as result:
        assert result.wait_for(lambda r: r is not None, timeout=30)["kind"] in ("ok", "error")
    # And the official client, whose socket may have been on the dead process, goes on.
    _within(30, lambda: client.mutation("world:heartbeatWorld", {"worldId": world}))
