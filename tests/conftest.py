"""Shared fixtures: real databases for every provider.

PostgreSQL tests get a fresh database each (created from the server at
``SMALLTOWN_TEST_POSTGRES_URL``, default the local server). MongoDB tests get a fresh
database each on a SecantusDB wire-protocol server that the test session starts on a free
loopback port (or on ``SMALLTOWN_TEST_MONGO_URL`` when set). Outside CI an unavailable
service skips its tests with the reason; under ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from smalltown.bench.scratch import scratch_postgres
from smalltown.store import Schema, Store, open_store

from helpers import RedisServer, free_port, wait_for

PG_ADMIN_URL = os.environ.get(
    "SMALLTOWN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PROVIDERS = ["sqlite", "postgres", "mongo"]


def require_service(name: str, reason: str) -> None:
    """Skip outside CI, fail under CI: a missing service must never pass silently there."""
    message = f"{name} is not available: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true: services must be running; see make test)")
    pytest.skip(message)


async def _postgres_admin(admin_url: str = PG_ADMIN_URL):
    try:
        import psycopg
    except ImportError as exc:
        require_service("PostgreSQL", f"psycopg is not installed ({exc})")
    try:
        return await psycopg.AsyncConnection.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        require_service("PostgreSQL", f"{admin_url}: {exc}")


async def new_postgres_database(admin_url: str = PG_ADMIN_URL) -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database on the server of ``admin_url``,
    dropped afterwards."""
    await (await _postgres_admin(admin_url)).close()  # skipped, or failed, without a server
    async with scratch_postgres(admin_url, prefix="smalltown_test_") as url:
        yield url


class MongoTestServer:
    """A SecantusDB server in a child process, on a loopback port and a private folder."""

    def __init__(self, data: Path, *extra: str) -> None:
        self.data = data
        self.extra = extra
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> None:
        binary = shutil.which("secantusd-py") or str(Path(sys.executable).parent / "secantusd-py")
        if not Path(binary).exists():
            require_service("MongoDB", "secantusd-py is not installed (pip install secantusdb)")
        log = open(self.data.parent / f"{self.data.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                binary,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.data),
                "--log-level",
                "WARNING",
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc, failed = self.proc, f"SecantusDB did not start; see {log.name}"

        def accepting() -> bool:
            if proc.poll() is not None:
                require_service("MongoDB", failed)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        try:
            wait_for(accepting, f"SecantusDB on port {self.port}", timeout, interval=0.05)
        except AssertionError:
            require_service("MongoDB", failed)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def mongo_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("SMALLTOWN_TEST_MONGO_URL"):
        yield url
        return
    server = MongoTestServer(tmp_path_factory.mktemp("mongo") / "data")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def mongo_url(mongo_server_url: str) -> AsyncIterator[str]:
    async for url in new_mongo_database(mongo_server_url):
        yield url


async def new_mongo_database(mongo_server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the test MongoDB server, dropped afterwards."""
    from pymongo import AsyncMongoClient

    name = f"smalltown_test_{uuid.uuid4().hex[:12]}"
    yield mongo_server_url.rstrip("/") + "/" + name
    client = AsyncMongoClient(mongo_server_url, serverSelectionTimeoutMS=5000)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


@pytest.fixture(params=PROVIDERS)
async def store_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A URL of an empty database, once per provider."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
    elif request.param == "postgres":
        async for url in new_postgres_database():
            yield url
    else:
        server = request.getfixturevalue("mongo_server_url")  # sync: starts once per session
        async for url in new_mongo_database(server):
            yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async for url in new_postgres_database():
        yield url


StoreFactory = Callable[[Schema], Awaitable[Store]]


@pytest.fixture
async def open_test_store(store_url: str) -> AsyncIterator[StoreFactory]:
    """Open (and at the end close) stores on this test's database."""
    opened: list[Store] = []

    async def factory(schema: Schema) -> Store:
        store = await open_store(store_url, schema)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A Redis server of the test's own (a child process on a free loopback port)."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
