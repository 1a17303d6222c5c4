"""The server answers /health on a real socket, from the CLI and in-process."""

import os
import subprocess
import sys

import httpx
import pytest

from smalltown.server import create_app

from helpers import RunningServer, free_port, wait_for


async def test_health_names_the_store(store_url):
    async with RunningServer(create_app(store_url)) as server, httpx.AsyncClient() as client:
        reply = await client.get(f"{server.url}/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert body["store"]["provider"] in ("sqlite", "postgres", "mongo")
    assert body["store"]["url"] == store_url


async def test_health_says_unavailable_when_the_database_goes_away(postgres_url):
    import psycopg

    async with RunningServer(create_app(postgres_url)) as server, httpx.AsyncClient() as client:
        assert (await client.get(f"{server.url}/health")).status_code == 200
        name = postgres_url.rsplit("/", 1)[1]
        admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        reply = await client.get(f"{server.url}/health", timeout=30)
    assert reply.status_code == 503
    assert reply.json()["status"] == "unavailable"
    assert reply.json()["store"]["error"]


def test_the_cli_serves_health_on_the_default_store_layout(tmp_path):
    port = free_port()
    env = {**os.environ, "SMALLTOWN_PORT": str(port)}
    env.pop("SMALLTOWN_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smalltown.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def answered() -> httpx.Response | None:
        if proc.poll() is not None:
            pytest.fail(f"server did not come up:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.TransportError:
            return None

    try:
        reply = wait_for(answered, "the server to answer /health", timeout=30, interval=0.1)
        assert reply.json()["store"] == {
            "provider": "sqlite",
            "url": "sqlite:///./data/smalltown.db",
        }
        assert (tmp_path / "data" / "smalltown.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_cli_refuses_a_bad_database_url_with_the_reason(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smalltown.cli",
            "run",
            "--database",
            "mysql://x@y/z",
            "--port",
            "1",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "unknown database scheme" in result.stdout + result.stderr
