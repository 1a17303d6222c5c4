"""Rate limits and size limits, over HTTP and the socket."""

import asyncio
import json

import httpx
import pytest
import websockets

from smalltown.runtime import Identity
from smalltown.server import ServerSettings, create_app
from smalltown.server.ratelimit import RateLimiter, RateLimitExceeded, RateLimits

from helpers import RunningServer


def test_buckets_refill_and_identities_are_separate():
    now = [0.0]
    limiter = RateLimiter(RateLimits(rate=2, burst=2), clock=lambda: now[0])
    ada, bob = Identity("user", "ada"), Identity("user", "bob")
    limiter.check(ada, "1.1.1.1")
    limiter.check(ada, "1.1.1.1")
    with pytest.raises(RateLimitExceeded) as info:
        limiter.check(ada, "2.2.2.2")  # the user's bucket is empty, wherever they call from
    assert info.value.retry_after == pytest.approx(0.5)
    limiter.check(bob, "3.3.3.3")
    with pytest.raises(RateLimitExceeded):
        limiter.check(Identity("none"), "1.1.1.1")  # the address's bucket is empty too
    now[0] = 0.5
    limiter.check(ada, "2.2.2.2")
    limiter.check(Identity("admin"), "1.1.1.1")  # never limited


LIMITS = RateLimits(rate=5, burst=5)


@pytest.fixture
async def server(tmp_path):
    """A server whose rate limiter reads ``server.clock``: time stands still for it until
    a test moves the clock on, so how fast the calls go does not matter."""
    settings = ServerSettings(rate_limits=LIMITS, max_body_bytes=4096)
    app = create_app(f"sqlite:///{tmp_path}/l.db", "example_app", settings)
    async with RunningServer(app) as s:
        assert isinstance(app.state.limiter, RateLimiter)  # the one every call goes through
        s.clock = [0.0]
        app.state.limiter = RateLimiter(LIMITS, clock=lambda: s.clock[0])
        yield s


async def test_http_gets_429_with_retry_after_and_recovers(server):
    body = {"path": "messages:count", "args": {"channel": "c"}}
    async with httpx.AsyncClient(base_url=server.url) as client:
        replies = [await client.post("/api/query", json=body) for _ in range(6)]
        assert [r.status_code for r in replies[:5]] == [200] * 5
        limited = replies[5]
        assert limited.status_code == 429 and limited.json()["code"] == "RateLimited"
        assert limited.headers["Retry-After"] == "1"  # 0.2 s, in whole seconds
        server.clock[0] += 0.2  # one token back at 5 a second, and one only
        assert (await client.post("/api/query", json=body)).status_code == 200
        assert (await client.post("/api/query", json=body)).status_code == 429


async def test_socket_calls_over_the_limit_fail_but_the_socket_stays(server):
    async with websockets.connect(server.ws_url + "/api/sync") as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "Connect",
                    "sessionId": "s",
                    "connectionCount": 0,
                    "lastCloseReason": None,
                    "clientTs": 0,
                }
            )
        )
        for i in range(6):
            await ws.send(
                json.dumps(
                    {"type": "Mutation", "requestId": i, "udfPath": "values:noop", "args": [{}]}
                )
            )
        responses = {}
        while len(responses) < 6:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "MutationResponse":
                responses[message["requestId"]] = message
        assert [responses[i]["success"] for i in range(6)] == [True] * 5 + [False]
        assert "rate limit" in responses[5]["result"]
        server.clock[0] += 0.2  # one token back
        await ws.send(
            json.dumps({"type": "Mutation", "requestId": 6, "udfPath": "values:noop", "args": [{}]})
        )
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "MutationResponse":
                assert message["requestId"] == 6 and message["success"]
                break


async def test_the_body_limit_is_configurable(server):
    async with httpx.AsyncClient(base_url=server.url) as client:
        big = {"path": "values:echo", "args": {"value": "x" * 5000}}
        reply = await client.post("/api/query", json=big)
        assert reply.status_code == 413


def test_each_session_has_a_bucket_of_its_own():
    """A flood from one page without a token (AI Town's joins) spends its session's
    bucket, not other sessions'; the address's bucket caps them all."""
    from smalltown.runtime import session_identity
    from smalltown.server.ratelimit import RateLimiter, RateLimitExceeded, RateLimits

    now = [0.0]
    limiter = RateLimiter(RateLimits(rate=1.0, burst=3.0), clock=lambda: now[0])
    flood, calm = session_identity("flood"), session_identity("calm")
    for _ in range(3):
        limiter.check(flood, "10.0.0.1")
    with pytest.raises(RateLimitExceeded):
        limiter.check(flood, "10.0.0.2")  # another address, the same session
    limiter.check(calm, "10.0.0.2")
