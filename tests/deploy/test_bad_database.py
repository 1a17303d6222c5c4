"""What an app container does with a database it cannot use, run natively with the
environment compose.yaml gives it: a wrong password or an unreachable server stops the
start with smalltown's one line and exit status 1 (which compose's `on-failure` policy
retries a few times, then leaves); a database lost while it runs turns the container's
health check unhealthy, with the reason, and healthy again once it is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import (
    SmalltownProcess,
    environment,
    healthcheck,
    native_app_environment,
    resolve_compose,
)

from helpers import PasswordPostgres, RedisServer, eventually, free_port, refusing_url

pytestmark = pytest.mark.slow


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def password_postgres() -> Iterator[PasswordPostgres]:
    server = PasswordPostgres("right-password").start()
    yield server
    server.remove()


def _app_env(database_url: str, redis: RedisServer) -> dict[str, str]:
    compose_env = environment(resolve_compose(), "app1")
    return native_app_environment(compose_env, database_url, redis.url, free_port())


def _fails_to_start(tmp_path: Path, env: dict[str, str]) -> str:
    """Start `smalltown run` with ``env``; it must exit 1 saying why in one line, which is
    returned. The container's health check meanwhile says unhealthy."""
    app = SmalltownProcess(tmp_path, env, "app1")
    assert app.proc.wait(timeout=120) == 1
    lines = [line for line in app.output().splitlines() if line.strip()]
    assert "Traceback" not in app.output(), app.output()
    assert lines[-1].startswith("smalltown: cannot start: "), app.output()
    check = healthcheck(env)
    assert check.returncode == 1 and "no answer" in check.stdout
    return lines[-1]


def test_a_wrong_password_stops_the_start_with_one_line(tmp_path, redis, password_postgres):
    env = _app_env(password_postgres.url("wrong-password"), redis)
    line = _fails_to_start(tmp_path, env)
    assert "password authentication failed" in line
    assert "wrong-password" not in line and "right-password" not in line


def test_an_unreachable_database_stops_the_start_with_one_line(tmp_path, redis):
    with refusing_url() as nowhere:
        port = nowhere.rsplit(":", 1)[1]
        line = _fails_to_start(
            tmp_path, _app_env(f"postgresql://smalltown:pw@127.0.0.1:{port}/smalltown", redis)
        )
    assert f"127.0.0.1:{port}" in line and ":pw@" not in line


async def test_a_database_lost_while_running_makes_the_health_check_unhealthy_until_back(
    tmp_path, redis, password_postgres
):
    env = _app_env(password_postgres.url(database="postgres"), redis)
    app = SmalltownProcess(tmp_path, env, "app1").wait_healthy()
    try:
        healthy = healthcheck(env)
        assert healthy.returncode == 0 and healthy.stdout.strip() == "200 ok"
        password_postgres.stop()
        await eventually(lambda: healthcheck(env).returncode == 1, timeout=60)
        lost = healthcheck(env).stdout
        assert lost.startswith("503 unavailable: store: "), lost
        assert app.proc.poll() is None, "the process stays up, reporting, while it waits"
        password_postgres.start()
        await eventually(lambda: healthcheck(env).returncode == 0, timeout=60)
    finally:
        app.stop()
