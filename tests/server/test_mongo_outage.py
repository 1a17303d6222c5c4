"""The server while its MongoDB is down, on a private wire server stopped and started: a call
fails fast (HTTP 503 ``StoreUnavailable``, not after pymongo's 10 s of server selection),
/health says 503 as fast, and once the server is back the next call succeeds, with no
restart of smalltown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from smalltown.server import create_app
from smalltown.store import mongo

from conftest import MongoTestServer
from helpers import RunningServer

OUTAGE_CALL_BOUND = 3.0  # a loaded machine's margin over the provider's 1 s
SEND = {"path": "messages:send", "args": {"channel": "c", "author": "ada", "body": "hi"}}
LIST = {"path": "messages:list", "args": {"channel": "c"}}


@pytest.fixture
def wire_server(tmp_path) -> Iterator[MongoTestServer]:
    server = MongoTestServer(tmp_path / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def server(wire_server: MongoTestServer) -> AsyncIterator[RunningServer]:
    async with RunningServer(create_app(wire_server.url + "town", "example_app")) as running:
        yield running


async def _timed(client: httpx.AsyncClient, method: str, url: str, body=None):
    started = time.monotonic()
    reply = await client.request(method, url, json=body)
    return time.monotonic() - started, reply


async def test_calls_fail_fast_with_503_while_mongodb_is_down_and_succeed_once_back(
    wire_server: MongoTestServer, server: RunningServer
) -> None:
    assert mongo.FAIL_FAST_SECONDS <= 1
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        _, reply = await _timed(client, "POST", "/api/mutation", SEND)
        assert reply.status_code == 200 and reply.json()["status"] == "success"

        await asyncio.to_thread(wire_server.stop)
        for url, body in [("/api/query", LIST), ("/api/mutation", SEND), ("/api/query", LIST)]:
            took, reply = await _timed(client, "POST", url, body)
            assert reply.status_code == 503, reply.text
            assert took < OUTAGE_CALL_BOUND, f"{url} took {took:.1f} s during the outage"
            error = reply.json()
            assert error["code"] == "StoreUnavailable", error
            assert error["message"].startswith("MongoDB is unavailable"), error
            assert len(error["message"]) < 300, error  # not pymongo's topology dump
        took, health = await _timed(client, "GET", "/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert took < OUTAGE_CALL_BOUND, f"/health took {took:.1f} s during the outage"

        await asyncio.to_thread(wire_server.start)  # same port, same data folder
        took, reply = await _timed(client, "POST", "/api/query", LIST)
        assert reply.status_code == 200, reply.text
        assert reply.json()["value"] == [{"author": "ada", "body": "hi"}]
        _, reply = await _timed(client, "POST", "/api/mutation", SEND)
        assert reply.status_code == 200 and reply.json()["status"] == "success"
        assert (await client.get("/health")).status_code == 200
