"""Shared fixtures: real databases for every provider.

PostgreSQL tests get a fresh database each (created from the server at
``SMALLTOWN_TEST_POSTGRES_URL``, default the local server). Outside CI an unreachable server
skips those tests with the reason; under ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from smalltown.store import Schema, Store, open_store

PG_ADMIN_URL = os.environ.get(
    "SMALLTOWN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PROVIDERS = ["sqlite", "postgres"]


def require_service(name: str, reason: str) -> None:
    """Skip outside CI, fail under CI: a missing service must never pass silently there."""
    message = f"{name} is not available: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true: services must be running; see make test)")
    pytest.skip(message)


async def _postgres_admin():
    try:
        import psycopg
    except ImportError as exc:
        require_service("PostgreSQL", f"psycopg is not installed ({exc})")
    try:
        return await psycopg.AsyncConnection.connect(
            PG_ADMIN_URL, autocommit=True, connect_timeout=5
        )
    except psycopg.Error as exc:
        require_service("PostgreSQL", f"{PG_ADMIN_URL}: {exc}")


async def new_postgres_database() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    admin = await _postgres_admin()
    name = f"smalltown_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=PROVIDERS)
async def store_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A URL of an empty database, once per provider."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
    else:
        async for url in new_postgres_database():
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
