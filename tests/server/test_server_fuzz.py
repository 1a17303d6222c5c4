"""Generated hostile input (Hypothesis) for every HTTP endpoint and every sync message.

What must hold for every case: no 5xx; a typed JSON error (``{"code", "message"}``) for
every refused API request; every frame that breaks the protocol answered by a FatalError
and a close, every other one served; and nothing in the server's log that means a
failure (an error or a traceback, from our loggers, uvicorn's or asyncio's).

Bounded by default: a few thousand cases, the same ones every run, in seconds. For a long
run on demand, ``SMALLTOWN_FUZZ_EXAMPLES=<n>`` runs ``n`` new random cases per test.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from smalltown.server import ServerSettings, create_app
from smalltown.server.ratelimit import RateLimits
from smalltown.server.sync import SyncSettings

from hostile import LogRecorder, ServerThread, recorded_server_log

EXAMPLES = int(os.environ.get("SMALLTOWN_FUZZ_EXAMPLES", "0"))


def budget(default: int):
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        derandomize=not EXAMPLES,  # the same cases every run, unless a long run is asked
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerThread]:
    settings = ServerSettings(
        rate_limits=RateLimits(enabled=False),  # the cases must reach the functions
        sync=SyncSettings(ping_seconds=3600),
    )
    folder = tmp_path_factory.mktemp("fuzz")
    with ServerThread(create_app(f"sqlite:///{folder}/fuzz.db", "example_app", settings)) as s:
        yield s


@pytest.fixture(scope="module")
def server_log(server) -> Iterator[LogRecorder]:
    with recorded_server_log() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def http(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


# --- values and function paths ---------------------------------------------------------

# Functions that fail on purpose (messages:broken) or schedule work (jobs:*) stay out:
# their errors in the log are the point of other tests.
PATHS = [
    "values:echo",
    "values:typed",
    "values:noop",
    "values:shout",
    "values:whoami",
    "values:sign_in",
    "values:counter_add",
    "messages:list",
    "messages:send",
    "messages:count",
    "messages:wipe",
    "nope:nothing",
    "values.js:echo",
    "values",
    ":",
    "a:b:c",
    "/values:echo",
]
function_paths = st.one_of(st.sampled_from(PATHS), st.text(max_size=30))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.floats(),
    st.text(max_size=20),
)
encoded = st.one_of(
    st.fixed_dictionaries({"$integer": st.sampled_from(["AAAAAAAAAAA=", "AQ==", "!!"])}),
    st.fixed_dictionaries({"$float": st.sampled_from(["AAAAAAAA+H8=", "AAAAAAAA", ""])}),
    st.fixed_dictionaries({"$bytes": st.text(max_size=12)}),
    st.fixed_dictionaries({"$undefined": st.none()}),
    st.dictionaries(st.sampled_from(["$x", "$integer", "a"]), scalars, min_size=1, max_size=2),
)
values = st.recursive(
    st.one_of(scalars, encoded),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def weighted(*choices: tuple[st.SearchStrategy, int]) -> st.SearchStrategy:
    """One of the strategies, each drawn as often as its weight says."""
    return st.sampled_from([s for s, weight in choices for _ in range(weight)]).flatmap(lambda s: s)


# Arguments: mostly an object (bare, or in a list as JavaScript sends it), else anything.
objects = st.dictionaries(
    st.sampled_from(["value", "channel", "name", "author", "body", "text", "$x"]), values
)
args = weighted(
    (objects, 3), (st.lists(objects, max_size=2), 2), (values, 1), (st.lists(values), 1)
)


def dumps(value: Any) -> str:
    """JSON as Python writes it: NaN and Infinity literals, surrogates as escapes."""
    return json.dumps(value)


EDIT_CHARACTERS = list('{}[]",:\\ 0e-')


@st.composite
def mangled(draw, texts) -> str:
    """A text with one edit: cut short, a character put in, taken out, or replaced."""
    text = draw(texts)
    at = draw(st.integers(0, len(text)))
    edit = draw(st.sampled_from(["cut", "insert", "delete", "replace"]))
    char = draw(st.sampled_from([*EDIT_CHARACTERS, "\\ud800", "\x00", "é"]))
    if edit == "cut":
        return text[:at]
    if edit == "insert":
        return text[:at] + char + text[at:]
    if edit == "delete":
        return text[:at] + text[at + 1 :]
    return text[:at] + char + text[at + 1 :]


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def echo(value_json: str) -> str:
    """A body calling ``values:echo`` with the JSON text given as its value."""
    return '{"path": "values:echo", "args": {"value": ' + value_json + "}}"


# Escapes naming half a surrogate pair, alone or paired (the last one is fine text).
SURROGATE_ESCAPES = [r"\ud800", r"\udfff", r"a\ud83d", r"\udc00x", r"\ud83d\ude00"]


# --- HTTP ------------------------------------------------------------------------------

formats = st.one_of(st.sampled_from(["json", "convex_encoded_json"]), values)
request_bodies = st.one_of(
    st.fixed_dictionaries({"path": function_paths, "args": args}, optional={"format": formats}),
    st.fixed_dictionaries(
        {}, optional={"path": st.one_of(function_paths, values), "args": args, "format": formats}
    ),
)
bodies = weighted(
    (request_bodies.map(dumps), 6),
    (mangled(request_bodies.map(dumps)), 2),
    (st.integers(1, 3000).map(lambda d: echo(nested(d))), 1),
    (st.integers(300, 6000).map(lambda k: echo("9" * k)), 1),
    (st.sampled_from(SURROGATE_ESCAPES).map(lambda s: echo('"' + s + '"')), 1),
    (st.text(max_size=200), 1),
).map(lambda text: text.encode("utf-8", "surrogatepass"))
raw_bodies = weighted((bodies, 6), (st.binary(max_size=200), 1))

url_text = st.text(max_size=30).map(lambda p: quote(p, safe="/"))
function_routes = st.sampled_from(["/api/query", "/api/mutation", "/api/action", "/api/function"])
run_routes = st.sampled_from(["/api/run/values/echo", "/api/run/messages/list", "/api/run/a.js/b"])
targets = weighted(
    (function_routes, 8),
    (run_routes, 3),
    (url_text.map(lambda p: "/api/run/" + p), 1),
    (url_text.map(lambda p: "/api/storage/" + p), 1),
    (url_text.map(lambda p: "/api/" + p), 1),
    (st.sampled_from(["/health", "/metrics", "/api/sync", "/api/1.0/sync"]), 1),
)
methods = st.sampled_from(["POST"] * 12 + ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "authorization": st.one_of(
            st.sampled_from(["Bearer", "Bearer x", "Convex x", "Basic eA==", "bearer a.b.c"]),
            st.just("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
            header_text.map(lambda t: "Bearer " + t),
            header_text,
        ),
        "content-type": st.one_of(
            st.sampled_from(["application/json", "text/plain", "multipart/form-data"]),
            header_text,
        ),
        "convex-client": header_text,
        "content-encoding": st.sampled_from(["gzip", "br", "identity"]),
    },
)
query_strings = st.dictionaries(st.text(max_size=8), st.text(max_size=16), max_size=3)

FUNCTION_ROUTES = ("/api/query", "/api/mutation", "/api/action", "/api/function", "/api/run/")


@budget(1500)
@given(method=methods, target=targets, body=raw_bodies, headers=headers, params=query_strings)
def test_http_requests(server, server_log, http, method, target, body, headers, params):
    server_log.records.clear()
    raw_headers = {name: value.encode("latin-1") for name, value in headers.items()}
    try:
        reply = http.request(method, target, content=body, headers=raw_headers, params=params)
    except httpx.LocalProtocolError:
        reject()  # a header httpx itself will not send
    assert reply.status_code < 500, reply.text
    assert server_log.failures() == []
    event(f"HTTP {reply.status_code}")
    if not target.startswith("/api/") or method == "HEAD":
        return
    payload = reply.json()
    if reply.status_code >= 400:
        assert isinstance(payload["code"], str) and isinstance(payload["message"], str)
    elif target.startswith(FUNCTION_ROUTES):
        assert payload["status"] in ("success", "error")


# --- the sync socket -------------------------------------------------------------------

KINDS = ["Connect", "ModifyQuerySet", "Mutation", "Action", "Authenticate", "Event"]
MISSING = object()  # a field left out
BASE = "<base>"  # filled in with the connection's query set version when sent
NEXT = "<next>"

wrong = st.one_of(
    st.just(MISSING),
    st.none(),
    st.booleans(),
    st.floats(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=12),
    st.lists(scalars, max_size=2),
    st.dictionaries(st.text(max_size=4), scalars, max_size=2),
    st.integers(60, 120).map(lambda d: json.loads(nested(d))),
)

add = st.fixed_dictionaries(
    {
        "type": st.just("Add"),
        "queryId": st.integers(0, 40),
        "udfPath": function_paths,
        "args": args,
    }
)
remove = st.fixed_dictionaries({"type": st.just("Remove"), "queryId": st.integers(0, 40)})
MESSAGES = {
    "Connect": st.fixed_dictionaries(
        {
            "type": st.just("Connect"),
            "sessionId": st.text(max_size=40),
            "connectionCount": st.integers(0, 3),
            "lastCloseReason": st.one_of(st.none(), st.just("InitialConnect")),
            "clientTs": st.integers(0, 2**53),
        }
    ),
    "ModifyQuerySet": st.fixed_dictionaries(
        {
            "type": st.just("ModifyQuerySet"),
            "baseVersion": st.just(BASE),
            "newVersion": st.just(NEXT),
            "modifications": st.lists(st.one_of(add, remove), max_size=3),
        }
    ),
    "Mutation": st.fixed_dictionaries(
        {
            "type": st.just("Mutation"),
            "requestId": st.integers(0, 50),
            "udfPath": function_paths,
            "args": args,
        }
    ),
    "Action": st.fixed_dictionaries(
        {
            "type": st.just("Action"),
            "requestId": st.integers(0, 50),
            "udfPath": st.one_of(st.just("values:shout"), function_paths),
            "args": args,
        }
    ),
    "Authenticate": st.fixed_dictionaries(
        {
            "type": st.just("Authenticate"),
            "tokenType": st.sampled_from(["User", "Admin", "None"]),
            "value": st.one_of(st.text(max_size=40), st.just("a.b.c")),
            "baseVersion": st.integers(0, 3),
        }
    ),
    "Event": st.fixed_dictionaries(
        {"type": st.just("Event"), "eventType": st.text(max_size=10), "event": values}
    ),
}
FIELDS = {
    "Connect": ["type", "sessionId"],
    "ModifyQuerySet": [
        *("baseVersion", "newVersion", "modifications"),
        *("mod.type", "mod.queryId", "mod.udfPath", "mod.args"),
    ],
    "Mutation": ["type", "requestId", "udfPath", "args"],
    "Action": ["requestId", "udfPath", "args"],
    "Authenticate": ["tokenType", "value", "baseVersion"],
    "Event": ["eventType", "event"],
}


@st.composite
def shaped_messages(draw) -> dict[str, Any]:
    """A message of each kind as real clients send it, or with one field of the wrong
    type (or left out)."""
    kind = draw(st.sampled_from(KINDS))
    message = draw(MESSAGES[kind])
    mangle = draw(st.booleans())
    field = draw(st.one_of(st.none(), st.sampled_from(FIELDS[kind]))) if mangle else None
    if field is not None:
        value = draw(wrong)
        target = message
        if field.startswith("mod."):
            if not message["modifications"]:
                return message
            target, field = message["modifications"][0], field[4:]
        if value is MISSING:
            target.pop(field, None)
        else:
            target[field] = value
    return message


frames = weighted(
    (shaped_messages(), 12),
    (st.binary(max_size=40), 1),
    (st.text(max_size=60), 1),
    (mangled(shaped_messages().map(dumps)), 2),
    (st.integers(1, 2000).map(lambda d: '{"type": "Event", "event": ' + nested(d) + "}"), 1),
    (st.integers(300, 6000).map(lambda k: '{"type": "Mutation", "requestId": ' + "9" * k + "}"), 1),
    (
        st.integers(300, 4000).map(
            lambda k: (
                '{"type": "Mutation", "requestId": 1, "udfPath": "values:noop", "args": '
                + nested(1, '{"n": ' + "9" * k + "}")
            )
        ),
        1,
    ),
    (
        st.sampled_from(SURROGATE_ESCAPES).map(
            lambda s: '{"type": "Connect", "sessionId": "' + s + '"}'
        ),
        1,
    ),
)

SENTINEL_ID = 2**32 - 1
SENTINEL = json.dumps(
    {"type": "Mutation", "requestId": SENTINEL_ID, "udfPath": "values:noop", "args": [{}]}
)
SURROGATE = re.compile(r"[\ud800-\udfff]")


def _u32(value: Any) -> bool:
    return type(value) is int and 0 <= value <= 2**32 - 1


def _path(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def breaks_protocol(frame: str | bytes, query_set: int) -> bool:
    """The protocol's rules, written out independently of the server: must this frame end
    the connection with a FatalError?"""
    if isinstance(frame, bytes):
        return True
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError):
        return True
    stack, deepest = [(message, 1)], 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str) and SURROGATE.search(item):
            return True
        if isinstance(item, dict):
            if any(SURROGATE.search(key) for key in item):
                return True
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
    if deepest > 80 or not isinstance(message, dict):
        return True
    kind = message.get("type")
    if kind == "Connect":
        session = message.get("sessionId", "")
        return not isinstance(session, str) or len(session) > 128
    if kind in ("Mutation", "Action"):
        return not _u32(message.get("requestId")) or not _path(message.get("udfPath"))
    if kind == "ModifyQuerySet":
        base, mods = message.get("baseVersion"), message.get("modifications")
        if type(base) is not int or base != query_set or not _u32(message.get("newVersion")):
            return True
        if not isinstance(mods, list):
            return True
        for mod in mods:
            if not isinstance(mod, dict) or not _u32(mod.get("queryId")):
                return True
            if mod.get("type") not in ("Add", "Remove"):
                return True
            if mod["type"] == "Add" and not _path(mod.get("udfPath")):
                return True
        return False
    if kind == "Authenticate":
        token_type = message.get("tokenType")
        if not _u32(message.get("baseVersion")) or token_type not in ("User", "Admin", "None"):
            return True
        return token_type != "None" and not isinstance(message.get("value", ""), str)
    return kind != "Event"


def materialise(frame: Any, query_set: int) -> str | bytes:
    if not isinstance(frame, dict):
        return frame
    text = dumps(frame)
    return text.replace(f'"{BASE}"', str(query_set)).replace(f'"{NEXT}"', str(query_set + 1))


@budget(800)
@given(sequence=st.lists(frames, min_size=1, max_size=3))
def test_sync_frames(server, server_log, sequence):
    server_log.records.clear()
    with connect(server.ws_url + "/api/sync", max_size=None, open_timeout=10) as ws:
        ws.send('{"type": "Connect", "sessionId": "fuzz", "connectionCount": 0}')
        query_set, fatal = 0, False
        for frame in sequence:
            sent = materialise(frame, query_set)
            ws.send(sent)
            if breaks_protocol(sent, query_set):
                fatal = True
                break
            message = json.loads(sent)
            if message.get("type") == "ModifyQuerySet":
                query_set = message["newVersion"]
        if not fatal:
            ws.send(SENTINEL)
        received = list(_until_done(ws, fatal))
    kinds = [m["type"] for m in received]
    event("a FatalError and a close" if fatal else "served")
    if fatal:
        assert kinds and kinds[-1] == "FatalError", (sequence, kinds)
        assert "Request ID" not in received[-1]["error"], received[-1]
    else:
        assert "FatalError" not in kinds, (sequence, received)
    assert server_log.failures() == []


def _until_done(ws, fatal: bool) -> Iterator[dict[str, Any]]:
    """The messages the server sends back, checked as the clients check them, until the
    sentinel's reply (or, after a FatalError, the close)."""
    version = {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}
    while True:
        try:
            message = json.loads(ws.recv(timeout=30))
        except ConnectionClosed:
            assert fatal, "the server closed the socket without a FatalError"
            return
        assert isinstance(message, dict) and message["type"] in (
            "Transition",
            "MutationResponse",
            "ActionResponse",
            "AuthError",
            "FatalError",
            "Ping",
        ), message
        if message["type"] == "Transition":
            assert message["startVersion"] == version, "broken version chain"
            version = message["endVersion"]
        yield message
        if message["type"] == "FatalError":
            continue  # the close comes next
        if message["type"] == "MutationResponse" and message["requestId"] == SENTINEL_ID:
            return


@budget(300)
@given(token=st.one_of(st.text(max_size=200), st.binary(max_size=120).map(lambda b: b.hex())))
def test_tokens(server, server_log, http, token):
    """Any token, on either door: refused with a clear error, never a crash."""
    server_log.records.clear()
    try:
        header = f"Bearer {token}".encode("latin-1")
        reply = http.post(
            "/api/query",
            json={"path": "values:whoami", "args": {}},
            headers={"Authorization": header},
        )
    except (UnicodeEncodeError, httpx.LocalProtocolError):
        reply = None  # no header can carry it; the socket takes it all the same
    if reply is not None:  # 400: a header uvicorn refuses (a control character, say)
        assert reply.status_code in (200, 400, 401), reply.text
    with connect(server.ws_url + "/api/sync", open_timeout=10) as ws:
        ws.send(
            json.dumps(
                {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
            )
        )
        answer = json.loads(ws.recv(timeout=30))
        assert answer["type"] in ("AuthError", "FatalError"), answer
    assert server_log.failures() == []
