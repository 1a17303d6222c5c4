"""Hostile input, case by case: every bad HTTP request gets a typed 4xx in the API's JSON
error shape, every bad sync frame a FatalError and a close, and the server's log shows no
failure for any of them."""

import json
import socket

import httpx
import pytest

from smalltown.server import create_app

from helpers import RunningServer
from hostile import expect_fatal_and_close, next_message, open_sync, recorded_server_log


@pytest.fixture
async def server(tmp_path):
    async with RunningServer(create_app(f"sqlite:///{tmp_path}/bad.db", "example_app")) as s:
        yield s


@pytest.fixture
def server_log(server):
    with recorded_server_log() as recorder:
        yield recorder
    assert recorder.failures() == [], "the server logged a failure"


@pytest.fixture
async def client(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


def deep(levels: int, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


@pytest.mark.parametrize(
    ("content", "code"),
    [
        pytest.param(b"[" * 100_000, "BadJsonBody", id="open-brackets"),
        pytest.param(
            b'{"path": "values:echo", "args": {"value": ' + deep(1000).encode() + b"}}",
            "BadJsonBody",
            id="args-1000-deep",
        ),
        pytest.param(
            b'{"path": "values:echo", "args": {"value": ' + deep(200).encode() + b"}}",
            "BadJsonBody",
            id="args-200-deep",
        ),
        pytest.param(b'{"path": "\\ud800", "args": {}}', "BadJsonBody", id="surrogate-path"),
        pytest.param(
            b'{"path": "values:echo", "args": {"value": "a\\udfffb"}}',
            "BadJsonBody",
            id="surrogate-value",
        ),
        pytest.param(
            b'{"path": "values:echo", "args": {"\\ud83d": 1}}', "BadJsonBody", id="surrogate-key"
        ),
        pytest.param(b'{"path": ["values:echo"], "args": {}}', "MissingPath", id="path-a-list"),
        pytest.param(b'{"path": "values:echo", "args": [{}, {}]}', "BadArgs", id="two-args"),
        pytest.param(b'{"path": "values:echo", "format": ["json"]}', "BadFormat", id="format"),
    ],
)
async def test_bad_bodies_get_a_typed_4xx(client, server_log, content, code):
    reply = await client.post("/api/query", content=content)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["code"] == code and reply.json()["message"]


async def test_a_value_nested_as_deep_as_the_store_allows_still_works(client, server_log):
    value = json.loads(deep(63, "7.5"))
    reply = await client.post("/api/query", json={"path": "values:echo", "args": {"value": value}})
    assert reply.status_code == 200 and reply.json()["value"] == value


async def test_paired_surrogates_are_ordinary_text(client, server_log):
    reply = await client.post(
        "/api/query", content=b'{"path": "values:echo", "args": {"value": "\\ud83d\\ude00"}}'
    )
    assert reply.json() == {"status": "success", "value": "\U0001f600", "logLines": []}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/query", 404, "NotFound"),
        ("PUT", "/api/run/messages/count", 404, "NotFound"),
        ("TRACE", "/api/query", 405, "MethodNotAllowed"),
        ("POST", "/api/nothing/here", 404, "NotFound"),
        ("GET", "/api/storage/not-an-id", 404, "StorageFileNotFound"),
    ],
)
async def test_unknown_api_routes_and_methods_answer_in_the_json_shape(
    client, server_log, method, path, status, code
):
    reply = await client.request(method, path)
    assert reply.status_code == status
    assert reply.json()["code"] == code and reply.json()["message"]


async def test_pages_outside_the_api_keep_their_plain_404(client, server_log):
    reply = await client.get("/no-such-page.html")
    assert reply.status_code == 404 and not reply.headers["content-type"].startswith(
        "application/json"
    )


async def test_a_client_that_leaves_mid_body_is_no_server_error(server, server_log, client):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        b"POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n" + b'{"path": "values:echo", "args": {"value": "'
    )
    sock.close()
    # The server goes on serving; the next request is answered.
    reply = await client.post(
        "/api/query", json={"path": "messages:count", "args": {"channel": "c"}}
    )
    assert reply.status_code == 200


BAD_FRAMES = {
    "binary": b'{"type": "Connect"}',
    "open-brackets": "[" * 100_000,
    "1000-deep": json.dumps({"type": "Event", "x": json.loads(deep(900))}),
    "empty-udfPath": {
        "type": "ModifyQuerySet",
        "baseVersion": 0,
        "newVersion": 1,
        "modifications": [{"type": "Add", "queryId": 0, "udfPath": "", "args": [{}]}],
    },
    "queryId-true": {
        "type": "ModifyQuerySet",
        "baseVersion": 0,
        "newVersion": 1,
        "modifications": [{"type": "Add", "queryId": True, "udfPath": "a:b", "args": [{}]}],
    },
    "newVersion-true": {
        "type": "ModifyQuerySet",
        "baseVersion": 0,
        "newVersion": True,
        "modifications": [],
    },
    "newVersion-huge": {
        "type": "ModifyQuerySet",
        "baseVersion": 0,
        "newVersion": 10**300,
        "modifications": [],
    },
    "mutation-without-requestId": {"type": "Mutation", "udfPath": "values:noop", "args": [{}]},
    "mutation-requestId-text": {
        "type": "Mutation",
        "requestId": "1",
        "udfPath": "values:noop",
        "args": [{}],
    },
    "mutation-udfPath-number": {"type": "Mutation", "requestId": 0, "udfPath": 5, "args": [{}]},
    "action-without-requestId": {"type": "Action", "udfPath": "values:shout", "args": [{}]},
    "surrogate-token": '{"type": "Authenticate", "tokenType": "User", "value": "\\ud800", '
    '"baseVersion": 0}',
    "surrogate-udfPath": '{"type": "Mutation", "requestId": 0, "udfPath": "\\udc00", "args": []}',
    "token-an-object": {
        "type": "Authenticate",
        "tokenType": "User",
        "value": {"a": 1},
        "baseVersion": 0,
    },
    "sessionId-an-object": {"type": "Connect", "sessionId": {"a": 1}},
    "sessionId-huge": {"type": "Connect", "sessionId": "s" * 100_000},
    "type-a-list": {"type": ["Connect"]},
}


@pytest.mark.parametrize("name", BAD_FRAMES)
async def test_bad_frames_get_a_fatal_error_and_a_close(server, server_log, name):
    frame = BAD_FRAMES[name]
    ws = await open_sync(server.ws_url)
    await ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))
    fatal = await expect_fatal_and_close(ws)
    assert len(fatal["error"]) < 500  # a clear sentence, not the frame echoed back
    # The server is still fine.
    other = await open_sync(server.ws_url, session="after")
    await other.send(json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "values:noop"}))
    assert (await next_message(other, "MutationResponse"))["success"] is True
    await other.close()


async def test_a_function_path_that_names_nothing_fails_alone(server, server_log):
    """A well-formed path naming no function is the call's failure, not the socket's."""
    ws = await open_sync(server.ws_url)
    await ws.send(
        json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "nope:none", "args": [{}]})
    )
    reply = await next_message(ws, "MutationResponse")
    assert reply["success"] is False and "nope:none" in reply["result"]
    await ws.close()


async def test_the_official_shapes_still_pass(server, server_log):
    """Strict checks must not refuse what real clients send: Connect with its extra
    fields, a bare-object args, an Event, Authenticate as None."""
    ws = await open_sync(server.ws_url)
    await ws.send(json.dumps({"type": "Event", "eventType": "x", "event": {"a": [1]}}))
    await ws.send(json.dumps({"type": "Authenticate", "tokenType": "None", "baseVersion": 0}))
    await ws.send(
        json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "values.js:noop", "args": {}})
    )
    assert (await next_message(ws, "MutationResponse"))["success"] is True
    await ws.close()


async def test_a_number_too_large_for_a_float_is_a_bad_value(server, server_log, client):
    """A JSON integer of 400 digits parses, but no Float64 holds it."""
    body = b'{"path": "values:echo", "args": {"value": ' + b"9" * 400 + b"}}"
    reply = await client.post("/api/query", content=body)
    assert reply.status_code == 400 and reply.json()["code"] == "BadConvexValue"
    ws = await open_sync(server.ws_url)
    await ws.send(
        '{"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": '
        '[{"type": "Add", "queryId": 0, "udfPath": "values:echo", "args": [{"value": '
        + "9" * 400
        + "}]}]}"
    )
    failed = (await next_message(ws, "Transition"))["modifications"][0]
    assert failed["type"] == "QueryFailed" and "Float64" in failed["errorMessage"]
    await ws.close()


@pytest.mark.parametrize(
    "args", [{"$integer": "AAAAAAAAAAA="}, {"$bytes": "AQI="}, [{"$float": "AAAAAAAA+H8="}]]
)
async def test_args_that_decode_to_a_scalar_are_bad_args(server, server_log, client, args):
    """An encoded scalar is a JSON object, but not an object of arguments."""
    reply = await client.post("/api/query", json={"path": "values:whoami", "args": args})
    assert reply.status_code == 400 and reply.json()["code"] == "BadArgs"
    ws = await open_sync(server.ws_url)
    add = {"type": "Add", "queryId": 0, "udfPath": "values:whoami", "args": args}
    await ws.send(
        json.dumps(
            {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [add]}
        )
    )
    failed = (await next_message(ws, "Transition"))["modifications"][0]
    assert failed["type"] == "QueryFailed" and "args must be an object" in failed["errorMessage"]
    await ws.send(
        json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "values:noop", "args": args})
    )
    reply = await next_message(ws, "MutationResponse")
    assert reply["success"] is False and "args must be an object" in reply["result"]
    await ws.close()
