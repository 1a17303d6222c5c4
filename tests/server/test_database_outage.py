"""The server while its PostgreSQL is down, on a private cluster stopped and started: a
call fails fast (HTTP 503 ``StoreUnavailable`` in the API's error shape, well under the
30 s it used to hang before answering 200), /health says 503 as fast, a mutation on the
sync socket fails with ``errorData`` a client can tell apart; once the database is back
the next call succeeds, with no restart of the server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets

from smalltown.server import create_app
from smalltown.store import postgres as pg

from helpers import PasswordPostgres, RunningServer

#: what a call during the outage may take on a loaded machine: far from 30 s, while the
#: provider's own wait is at most 1 s
OUTAGE_CALL_BOUND = 5.0
HEALTH_BOUND = 3.0  # /health used to wait 5 s for a connection before saying 503
SEND = {"path": "messages:send", "args": {"channel": "c", "author": "ada", "body": "hi"}}
LIST = {"path": "messages:list", "args": {"channel": "c"}}


@pytest.fixture
def cluster() -> Iterator[PasswordPostgres]:
    server = PasswordPostgres("outage").start()
    yield server
    server.remove()


@pytest.fixture
async def server(cluster: PasswordPostgres) -> AsyncIterator[RunningServer]:
    async with RunningServer(create_app(cluster.url(), "example_app")) as running:
        yield running


async def _timed_post(
    client: httpx.AsyncClient, url: str, body: Any
) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    reply = await client.post(url, json=body)
    return time.monotonic() - started, reply


async def _socket_mutation(server: RunningServer, session: str) -> dict[str, Any]:
    """One Mutation on a fresh sync socket as ``session``; its MutationResponse."""
    async with websockets.connect(f"{server.ws_url}/api/1.48.0/sync") as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "Connect",
                    "sessionId": session,
                    "connectionCount": 0,
                    "lastCloseReason": "InitialConnect",
                    "clientTs": 0,
                }
            )
        )
        await ws.send(
            json.dumps(
                {
                    "type": "Mutation",
                    "requestId": 0,
                    "udfPath": SEND["path"],
                    "args": [SEND["args"]],
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message["type"] == "MutationResponse":
                return message


async def test_calls_fail_fast_with_503_while_the_database_is_down_and_succeed_once_back(
    cluster: PasswordPostgres, server: RunningServer
) -> None:
    assert pg.FAIL_FAST_SECONDS <= 1
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        took, reply = await _timed_post(client, "/api/mutation", SEND)
        assert reply.status_code == 200 and reply.json()["status"] == "success"

        await asyncio.to_thread(cluster.stop)
        for url, body in [("/api/query", LIST), ("/api/mutation", SEND), ("/api/query", LIST)]:
            took, reply = await _timed_post(client, url, body)
            assert reply.status_code == 503, reply.text
            assert took < OUTAGE_CALL_BOUND, f"{url} took {took:.1f} s during the outage"
            error = reply.json()
            assert error["code"] == "StoreUnavailable", error
            assert error["message"].startswith("PostgreSQL"), error
            assert reply.headers["retry-after"] == "1"
        assert "unavailable" in error["message"]

        started = time.monotonic()
        health = await client.get("/health")
        took = time.monotonic() - started
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert took < HEALTH_BOUND, f"/health took {took:.1f} s during the outage"

        response = await _socket_mutation(server, "during")
        assert response["success"] is False
        assert response["errorData"]["code"] == "StoreUnavailable", response
        assert response["result"] == response["errorData"]["message"]

        await asyncio.to_thread(cluster.start)  # returns once the server accepts connections
        took, reply = await _timed_post(client, "/api/query", LIST)
        assert reply.status_code == 200, reply.text
        assert reply.json()["value"] == [{"author": "ada", "body": "hi"}]
        took, reply = await _timed_post(client, "/api/mutation", SEND)
        assert reply.status_code == 200 and reply.json()["status"] == "success"
        assert (await client.get("/health")).status_code == 200
        assert (await _socket_mutation(server, "after"))["success"] is True
