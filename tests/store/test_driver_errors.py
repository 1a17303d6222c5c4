"""No driver exception escapes a provider: each becomes a StoreError chained to its cause.

The database is broken behind the store's back (its table dropped), which only the driver
itself can notice; so this file, unlike the conformance suite, reaches into each database.
"""

import sqlite3

import pytest

from smalltown.store import Schema, StoreError, Table, open_store

SCHEMA = Schema([Table("t")])


async def _assert_translated(store, driver_error):
    with pytest.raises(StoreError) as info:
        await store.read(lambda tx: tx.query("t"))
    assert isinstance(info.value.__cause__, driver_error)
    with pytest.raises(StoreError):
        await store.run(lambda tx: tx.insert("t", {"x": 1}))


async def test_sqlite_errors_are_translated(tmp_path):
    path = tmp_path / "db.sqlite"
    store = await open_store(f"sqlite:///{path}", SCHEMA)
    try:
        with sqlite3.connect(path) as raw:
            raw.execute('DROP TABLE "st_t"')
        await _assert_translated(store, sqlite3.Error)
    finally:
        await store.close()


async def test_postgres_errors_are_translated(postgres_url):
    import psycopg

    store = await open_store(postgres_url, SCHEMA)
    try:
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as raw:
            await raw.execute('DROP TABLE "st_t"')
        await _assert_translated(store, psycopg.Error)
    finally:
        await store.close()
