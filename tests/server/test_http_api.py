"""Convex's HTTP API on a real socket, with httpx."""

import math

import httpx
import pytest

from smalltown.runtime import wire
from smalltown.server import create_app

from helpers import RunningServer


@pytest.fixture
async def server(tmp_path):
    async with RunningServer(create_app(f"sqlite:///{tmp_path}/api.db", "example_app")) as s:
        yield s


@pytest.fixture
async def client(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


async def post(client, url, body, **kwargs):
    reply = await client.post(url, json=body, **kwargs)
    return reply.status_code, reply.json()


async def test_mutation_and_query_round_trip(client):
    status, body = await post(
        client,
        "/api/mutation",
        {"path": "messages:send", "args": {"channel": "c", "author": "ada", "body": "hi"}},
    )
    assert status == 200 and body["status"] == "success" and isinstance(body["value"], str)
    status, body = await post(
        client, "/api/query", {"path": "messages:list", "args": [{"channel": "c"}]}
    )
    assert body == {"status": "success", "value": [{"author": "ada", "body": "hi"}], "logLines": []}


async def test_run_route_and_function_route(client):
    _, body = await post(client, "/api/run/messages/count", {"args": {"channel": "c"}})
    assert body["value"] == 0.0
    _, body = await post(
        client,
        "/api/function",
        {"path": "messages:send", "args": {"channel": "c", "author": "a", "body": "b"}},
    )
    assert body["status"] == "success"
    _, body = await post(
        client, "/api/function", {"path": "values:shout", "args": {"channel": "c"}}
    )
    assert body["value"] == 2.0


async def test_encoded_values_round_trip_every_type(client):
    value = {
        "int": {"$integer": wire.encode(7)["$integer"]},
        "float": 1.5,
        "whole_float": 2,
        "nan": wire.encode(math.nan),
        "neg_zero": wire.encode(-0.0),
        "bytes": {"$bytes": "AP8="},
        "list": [None, True, "s"],
    }
    reply = await client.post(
        "/api/query",
        json={"path": "values:echo", "args": {"value": value}, "format": "convex_encoded_json"},
    )
    text = reply.text
    body = reply.json()["value"]
    assert wire.decode(body["int"]) == 7 and isinstance(wire.decode(body["int"]), int)
    assert body["whole_float"] == 2.0 and '"whole_float":2.0' in text  # a decimal point
    assert math.isnan(wire.decode(body["nan"]))
    assert math.copysign(1, wire.decode(body["neg_zero"])) == -1
    assert wire.decode(body["bytes"]) == b"\x00\xff"
    clean = (await post(client, "/api/query", {"path": "values:echo", "args": {"value": value}}))[1]
    assert clean["value"]["int"] == "7" and clean["value"]["bytes"] == "AP8="


async def test_function_errors_are_http_200_with_the_message(client):
    _, body = await post(client, "/api/query", {"path": "messages:list", "args": {}})
    assert body["status"] == "error" and "channel" in body["errorMessage"]
    assert "errorData" not in body
    _, body = await post(
        client,
        "/api/mutation",
        {"path": "messages:send", "args": {"channel": "c", "author": "a", "body": " "}},
    )
    assert body["status"] == "error"
    assert body["errorData"] == {"code": "empty", "message": "say something"}
    _, body = await post(client, "/api/query", {"path": "nope:nothing", "args": {}})
    assert body["status"] == "error" and "nope:nothing" in body["errorMessage"]


async def test_unexpected_errors_hide_details_behind_a_request_id(client, caplog):
    _, body = await post(client, "/api/query", {"path": "messages:broken", "args": {}})
    assert body["status"] == "error"
    assert "Request ID" in body["errorMessage"]
    assert "a bug" not in body["errorMessage"]
    request_id = body["errorMessage"].split("Request ID: ")[1].split("]")[0]
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("content", "code", "status"),
    [
        (b"{not json", "BadJsonBody", 400),
        (b"[1, 2]", "BadJsonBody", 400),
        (b'{"args": {}}', "MissingPath", 400),
        (b'{"path": "messages:list", "args": 5}', "BadArgs", 400),
        (b'{"path": "messages:list", "args": {"$x": 1}}', "BadConvexValue", 400),
        (b'{"path": "messages:list", "args": {}, "format": "xml"}', "BadFormat", 400),
    ],
)
async def test_malformed_requests_are_4xx_with_a_code(client, content, code, status):
    reply = await client.post("/api/query", content=content)
    assert reply.status_code == status
    assert reply.json()["code"] == code and reply.json()["message"]


async def test_oversize_bodies_are_refused(client):
    reply = await client.post("/api/query", content=b"x" * (9 << 20))
    assert reply.status_code == 413 and reply.json()["code"] == "PayloadTooLarge"


async def test_internal_functions_need_the_admin_key(client, server):
    args = {"path": "messages:wipe", "args": {"channel": "c"}}
    _, body = await post(client, "/api/mutation", args)
    assert body["status"] == "error"
    key = server.app.state.runtime.auth.admin_key
    _, body = await post(client, "/api/mutation", args, headers={"Authorization": f"Convex {key}"})
    assert body["status"] == "success"
    token = (
        await post(client, "/api/mutation", {"path": "values:sign_in", "args": {"name": "u"}})
    )[1]
    _, body = await post(
        client, "/api/mutation", args, headers={"Authorization": f"Bearer {token['value']}"}
    )
    assert body["status"] == "error"


async def test_user_tokens_identify_and_forgeries_are_refused(client):
    token = (
        await post(client, "/api/mutation", {"path": "values:sign_in", "args": {"name": "ada"}})
    )[1]
    bearer = {"Authorization": f"Bearer {token['value']}"}
    _, body = await post(
        client, "/api/query", {"path": "values:whoami", "args": {}}, headers=bearer
    )
    assert body["value"] == {"kind": "user", "subject": "ada"}
    forged = {"Authorization": "Bearer " + token["value"][:-3] + "abc"}
    status, body = await post(
        client, "/api/query", {"path": "values:whoami", "args": {}}, headers=forged
    )
    assert status == 401 and body["code"] == "Unauthenticated"


async def test_metrics_count_calls_in_prometheus_text(client):
    await post(client, "/api/query", {"path": "messages:count", "args": {"channel": "c"}})
    await post(client, "/api/query", {"path": "messages:broken", "args": {}})
    reply = await client.get("/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert 'smalltown_function_calls_total{kind="query",outcome="success"} 1.0' in text
    assert 'smalltown_function_calls_total{kind="query",outcome="error"} 1.0' in text
    assert "smalltown_sync_connections 0.0" in text
