"""The test fixtures' per-test PostgreSQL databases: their URLs keep whatever the server's
URL says beside the database name (a socket folder in the query, options)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smalltown.bench.scratch import postgres_database_url
from smalltown.store import Schema, Table, open_store

from conftest import new_postgres_database

SOCKETS = Path("/var/run/postgresql")


@pytest.mark.parametrize(
    ("server", "database"),
    [
        ("postgresql://postgres@127.0.0.1:5432/postgres", "postgresql://postgres@127.0.0.1:5432/t"),
        ("postgresql://u:p@h/postgres?sslmode=disable", "postgresql://u:p@h/t?sslmode=disable"),
        (
            "postgresql:///postgres?host=/var/run/postgresql",
            "postgresql:///t?host=/var/run/postgresql",
        ),
        ("postgresql://h/?dbname=postgres&user=u", "postgresql://h/t?user=u"),
        ("postgres://h", "postgres://h/t"),
    ],
)
def test_the_database_name_is_all_that_changes(server: str, database: str) -> None:
    assert postgres_database_url(server, "t") == database


async def test_a_server_reached_through_its_socket_folder_gives_working_databases() -> None:
    if not (SOCKETS / ".s.PGSQL.5432").exists():
        pytest.skip(f"no PostgreSQL socket in {SOCKETS} on this machine")
    server = f"postgresql://postgres@/postgres?host={SOCKETS}"
    async for url in new_postgres_database(server):
        assert url.endswith(f"?host={SOCKETS}")
        store = await open_store(url, Schema([Table("notes")]))
        try:
            await store.run(lambda tx: tx.insert("notes", {"n": 1}))
            assert len(await store.read(lambda tx: tx.query("notes"))) == 1
        finally:
            await store.close()
