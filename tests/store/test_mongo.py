"""What only MongoDB has: replica-set detection, URLs, and a server lost mid-transaction."""

import pytest
from pymongo.errors import PyMongoError

from smalltown.store import Schema, StoreConnectionError, StoreError, Table, open_store

from conftest import MongoTestServer
from helpers import free_port

SCHEMA = Schema([Table("things")])


@pytest.fixture
def private_server(tmp_path):
    servers = []

    def start(*extra):
        server = MongoTestServer(tmp_path / f"data{len(servers)}", *extra)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


async def test_a_standalone_server_is_refused_with_how_to_fix_it(private_server):
    server = private_server("--standalone")
    with pytest.raises(StoreConnectionError, match=r"standalone.*--replSet rs0.*rs.initiate"):
        await open_store(server.url + "town")


async def test_an_unreachable_server_fails_at_open_with_the_url_but_not_the_password():
    url = f"mongodb://town:hunter2@127.0.0.1:{free_port()}/town?serverSelectionTimeoutMS=500"
    with pytest.raises(StoreConnectionError, match="cannot connect") as info:
        await open_store(url)
    assert "hunter2" not in str(info.value) and "***" in str(info.value)


@pytest.mark.parametrize(
    "url", ["mongodb://", "mongodb://host:notaport/db", "mongodb://h/db?w=x&w"]
)
async def test_a_malformed_url_fails_at_open(url):
    with pytest.raises(StoreConnectionError, match=r"malformed|cannot connect"):
        await open_store(url)


async def test_a_server_killed_mid_transaction_leaves_nothing_half_written(private_server):
    # Durable commits, as a production MongoDB gives with journaling; SecantusDB's default
    # may lose the last commits to SIGKILL, which is not what this test is about.
    server = private_server("--sync-on-commit")
    url = server.url + "town?serverSelectionTimeoutMS=2000"
    store = await open_store(url, SCHEMA)
    kept = await store.run(lambda tx: tx.insert("things", {"n": 0}))

    async def half_then_crash(tx):
        for n in range(1, 50):
            await tx.insert("things", {"n": n})
        await tx.query("things")  # sends the queued inserts to the server
        server.kill()
        await tx.patch(kept, {"n": -1})
        await tx.query("things")

    with pytest.raises(StoreError) as info:
        await store.run(half_then_crash)
    assert isinstance(info.value.__cause__, PyMongoError)  # translated, not leaked
    await store.close()

    server.start()  # same port, same data folder
    again = await open_store(url, SCHEMA)
    try:
        docs = await again.read(lambda tx: tx.query("things"))
        assert [(d["_id"], d["n"]) for d in docs] == [(kept, 0)]
    finally:
        await again.close()
