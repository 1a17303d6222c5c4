"""The sync protocol, frame by frame, with a plain WebSocket client."""

import asyncio
import json

import pytest
import websockets

from smalltown.runtime import wire
from smalltown.server import ServerSettings, create_app
from smalltown.server.sync import SyncSettings

from helpers import RunningServer

ZERO = {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}


@pytest.fixture
async def server(tmp_path):
    settings = ServerSettings(sync=SyncSettings(ping_seconds=0.5, max_queries=5))
    app = create_app(f"sqlite:///{tmp_path}/sync.db", "example_app", settings)
    async with RunningServer(app) as s:
        yield s


class Client:
    """A bare protocol client that checks version chaining on every Transition."""

    def __init__(self, ws):
        self.ws = ws
        self.version = dict(ZERO)
        self.query_set = 0
        self.request_id = 0
        self.results: dict[int, object] = {}

    @classmethod
    async def connect(cls, server, path="/api/1.48.0/sync", session="s1"):
        ws = await websockets.connect(server.ws_url + path)
        client = cls(ws)
        await client.send(
            {
                "type": "Connect",
                "sessionId": session,
                "connectionCount": 0,
                "lastCloseReason": "InitialConnect",
                "clientTs": 0,
            }
        )
        return client

    async def send(self, message):
        await self.ws.send(json.dumps(message))

    async def receive(self, kind=None, timeout=10):
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] == "Ping" and kind != "Ping":
                continue
            if message["type"] == "Transition":
                assert message["startVersion"] == self.version, "broken version chain"
                self.version = message["endVersion"]
                for mod in message["modifications"]:
                    if mod["type"] == "QueryUpdated":
                        assert mod["logLines"] == [] and mod["journal"] is None
                        self.results[mod["queryId"]] = wire.decode(mod["value"])
                    elif mod["type"] == "QueryFailed":
                        self.results[mod["queryId"]] = ("failed", mod["errorMessage"])
            if kind is None or message["type"] == kind:
                return message

    async def transition_where(self, predicate, timeout=10):
        """The next Transition that satisfies ``predicate`` (others are applied and skipped)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, "no such Transition arrived"
            message = await self.receive("Transition", timeout=left)
            if predicate(message):
                return message

    async def add(self, query_id, path, args):
        base, self.query_set = self.query_set, self.query_set + 1
        await self.send(
            {
                "type": "ModifyQuerySet",
                "baseVersion": base,
                "newVersion": self.query_set,
                "modifications": [
                    {"type": "Add", "queryId": query_id, "udfPath": path, "args": [args]}
                ],
            }
        )
        return await self.transition_where(lambda t: t["endVersion"]["querySet"] == self.query_set)

    async def mutate(self, path, args):
        request_id, self.request_id = self.request_id, self.request_id + 1
        await self.send(
            {"type": "Mutation", "requestId": request_id, "udfPath": path, "args": [args]}
        )
        response = await self.receive("MutationResponse")
        assert response["requestId"] == request_id
        if response["success"]:
            # The promise resolves only on a Transition reaching the mutation's ts.
            target = wire.decode_u64(response["ts"])
            while wire.decode_u64(self.version["ts"]) < target:
                await self.receive("Transition")
        return response

    async def wait_for(self, query_id, expected, timeout=10):
        deadline = asyncio.get_running_loop().time() + timeout
        while self.results.get(query_id) != expected:
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"query {query_id} is {self.results.get(query_id)!r}, not {expected!r}"
            await self.receive("Transition", timeout=left)


async def test_subscribe_then_see_another_clients_mutation(server):
    watcher = await Client.connect(server, session="w")
    writer = await Client.connect(server, path="/api/sync", session="p")
    first = await watcher.add(1, "messages:list", {"channel": "town"})
    assert first["endVersion"]["querySet"] == 1 and watcher.results[1] == []
    response = await writer.mutate(
        "messages:send", {"channel": "town", "author": "a", "body": "hi"}
    )
    assert response["success"] and response["logLines"] == []
    await watcher.wait_for(1, [{"author": "a", "body": "hi"}])
    await watcher.ws.close()
    await writer.ws.close()


async def test_a_mutation_is_followed_by_a_transition_even_when_nothing_changed(server):
    client = await Client.connect(server)
    response = await client.mutate("values:noop", {})
    assert response["success"]
    assert wire.decode_u64(client.version["ts"]) >= wire.decode_u64(response["ts"])
    await client.ws.close()


async def test_unrelated_writes_push_nothing(server):
    watcher = await Client.connect(server, session="w")
    writer = await Client.connect(server, session="p")
    await watcher.add(1, "messages:list", {"channel": "quiet"})
    await writer.mutate("messages:send", {"channel": "loud", "author": "a", "body": "x"})
    await writer.mutate("messages:send", {"channel": "quiet", "author": "a", "body": "y"})
    await watcher.wait_for(1, [{"author": "a", "body": "y"}])
    # Only one update reached the watcher: the one for its channel.
    assert server.app.state.subscriptions.query_runs <= 4
    await watcher.ws.close()
    await writer.ws.close()


async def test_query_errors_and_removal(server):
    client = await Client.connect(server)
    await client.add(1, "messages:list", {})
    assert client.results[1][0] == "failed" and "channel" in client.results[1][1]
    await client.send(
        {
            "type": "ModifyQuerySet",
            "baseVersion": 1,
            "newVersion": 2,
            "modifications": [{"type": "Remove", "queryId": 1}],
        }
    )
    transition = await client.transition_where(lambda t: t["endVersion"]["querySet"] == 2)
    assert transition["modifications"] == [{"type": "QueryRemoved", "queryId": 1}]
    assert client.version["querySet"] == 2
    await client.ws.close()


async def test_mutation_errors_and_convex_error_data(server):
    client = await Client.connect(server)
    response = await client.mutate("messages:send", {"channel": "c", "author": "a", "body": " "})
    assert response["success"] is False
    assert response["errorData"] == {"code": "empty", "message": "say something"}
    response = await client.mutate("messages:send", {"channel": "c"})
    assert response["success"] is False and "errorData" not in response
    assert "author" in response["result"]
    await client.ws.close()


async def test_replayed_mutations_run_once(server):
    client = await Client.connect(server, session="same-session")
    await client.mutate("values:counter_add", {"name": "n"})
    await client.ws.close()
    again = await Client.connect(server, session="same-session")
    # The reconnected client replays request 0, which was answered already.
    await again.send(
        {
            "type": "Mutation",
            "requestId": 0,
            "udfPath": "values:counter_add",
            "args": [{"name": "n"}],
        }
    )
    replay = await again.receive("MutationResponse")
    assert replay["success"] and wire.decode(replay["result"]) == 1.0
    again.request_id = 1
    fresh = await again.mutate("values:counter_add", {"name": "n"})
    assert wire.decode(fresh["result"]) == 2.0
    await again.ws.close()


async def test_actions_answer_with_action_response(server):
    client = await Client.connect(server)
    await client.send(
        {"type": "Action", "requestId": 0, "udfPath": "values:shout", "args": [{"channel": "c"}]}
    )
    response = await client.receive("ActionResponse")
    assert response["success"] and wire.decode(response["result"]) == 1.0
    await client.ws.close()


async def test_authenticate_bumps_identity_and_reruns_queries(server):
    client = await Client.connect(server)
    await client.add(1, "values:whoami", {})
    assert client.results[1] == {"kind": "none", "subject": None}
    token = wire.decode((await client.mutate("values:sign_in", {"name": "ada"}))["result"])
    await client.send(
        {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
    )
    await client.transition_where(lambda t: t["endVersion"]["identity"] == 1)
    assert client.results[1] == {"kind": "user", "subject": "ada"}
    await client.send(
        {"type": "Authenticate", "tokenType": "User", "value": "forged", "baseVersion": 1}
    )
    error = await client.receive("AuthError")
    assert error["baseVersion"] == 1 and "not valid" in error["error"]
    await client.ws.close()


async def test_identities_do_not_leak_between_connections(server):
    alice = await Client.connect(server, session="a")
    anonymous = await Client.connect(server, session="b")
    token = wire.decode((await alice.mutate("values:sign_in", {"name": "alice"}))["result"])
    await alice.send(
        {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
    )
    await alice.transition_where(lambda t: t["endVersion"]["identity"] == 1)
    await anonymous.add(1, "values:whoami", {})
    await alice.add(1, "values:whoami", {})
    assert anonymous.results[1]["kind"] == "none"
    assert alice.results[1] == {"kind": "user", "subject": "alice"}
    await alice.ws.close()
    await anonymous.ws.close()


async def test_a_socket_without_auth_is_its_session_across_reconnects(server):
    """What AI Town's page needs to play: a client that sends no auth acts as its session
    (named by a hash of its sessionId, which a reconnect sends again); queries not
    declared per caller still run as nobody, shared by every anonymous viewer."""
    first = await Client.connect(server, session="0b7c1f8e-session-of-tab-one")
    await first.add(1, "values:whoami", {})
    await first.add(2, "values:whoami_per_caller", {})
    assert first.results[1] == {"kind": "none", "subject": None}
    me = first.results[2]
    assert me["kind"] == "session" and me["subject"].startswith("guest:")
    assert "0b7c1f8e" not in me["subject"]  # the id that claims it is never shown
    acted = await first.mutate("values:whoami_acting", {})
    assert wire.decode(acted["result"]) == me
    await first.ws.close()
    again = await Client.connect(server, session="0b7c1f8e-session-of-tab-one")
    other = await Client.connect(server, session="another-tab")
    await again.add(1, "values:whoami_per_caller", {})
    await other.add(1, "values:whoami_per_caller", {})
    assert again.results[1] == me
    assert other.results[1]["kind"] == "session" and other.results[1] != me
    token = wire.decode((await again.mutate("values:sign_in", {"name": "ada"}))["result"])
    await again.send(
        {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
    )
    await again.transition_where(lambda t: t["endVersion"]["identity"] == 1)
    assert again.results[1] == {"kind": "user", "subject": "ada"}
    await again.ws.close()
    await other.ws.close()


async def test_sessions_reach_no_internal_function(server):
    client = await Client.connect(server, session="a-tab")
    response = await client.mutate("jobs:record", {"tag": "x"})
    assert not response["success"] and "Could not find public function" in response["result"]
    await client.ws.close()


async def test_pings_keep_coming(server):
    client = await Client.connect(server)
    assert (await client.receive("Ping", timeout=5)) == {"type": "Ping"}
    await client.ws.close()


async def test_subscription_cap(server):
    client = await Client.connect(server)
    for i in range(5):
        await client.add(i, "messages:count", {"channel": f"c{i}"})
    await client.add(5, "messages:count", {"channel": "c5"})
    assert client.results[5][0] == "failed" and "too many" in client.results[5][1]
    await client.ws.close()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        json.dumps({"type": "Nonsense"}),
        json.dumps(
            {"type": "ModifyQuerySet", "baseVersion": 7, "newVersion": 8, "modifications": []}
        ),
    ],
)
async def test_protocol_violations_get_a_fatal_error_and_a_close(server, frame):
    client = await Client.connect(server)
    await client.ws.send(frame)
    error = await client.receive("FatalError")
    assert error["error"]
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(client.ws.recv(), 10)
    # The server is still fine.
    other = await Client.connect(server, session="after")
    await other.add(1, "messages:count", {"channel": "x"})
    assert other.results[1] == 0.0
    await other.ws.close()


async def test_admin_authentication_reaches_internal_functions(server):
    client = await Client.connect(server)
    refused = await client.mutate("messages:wipe", {"channel": "c"})
    assert refused["success"] is False and "Could not find" in refused["result"]
    await client.send(
        {"type": "Authenticate", "tokenType": "Admin", "value": "wrong", "baseVersion": 0}
    )
    assert (await client.receive("AuthError"))["baseVersion"] == 0
    key = server.app.state.runtime.auth.admin_key
    await client.send(
        {"type": "Authenticate", "tokenType": "Admin", "value": key, "baseVersion": 0}
    )
    await client.transition_where(lambda t: t["endVersion"]["identity"] == 1)
    allowed = await client.mutate("messages:wipe", {"channel": "c"})
    assert allowed["success"] is True
    await client.ws.close()


async def test_an_unknown_query_fails_alone(server):
    client = await Client.connect(server)
    base, client.query_set = client.query_set, client.query_set + 1
    await client.send(
        {
            "type": "ModifyQuerySet",
            "baseVersion": base,
            "newVersion": 1,
            "modifications": [
                {"type": "Add", "queryId": 1, "udfPath": "nope:nothing", "args": [{}]},
                {
                    "type": "Add",
                    "queryId": 2,
                    "udfPath": "messages.js:count",
                    "args": [{"channel": "c"}],
                },
            ],
        }
    )
    await client.transition_where(lambda t: t["endVersion"]["querySet"] == 1)
    assert client.results[1][0] == "failed" and "nope:nothing" in client.results[1][1]
    assert client.results[2] == 0.0  # ".js" paths, as the Python client sends on reconnect
    await client.ws.close()


class _StalledClient(asyncio.Protocol):
    """A protocol client on a socket with a tiny receive buffer that can stop reading, so
    the server's writes back up and its sends have to wait."""

    def __init__(self, url: str) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.frames: asyncio.Queue[dict] = asyncio.Queue()
        self.opened = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if not hasattr(event, "opcode"):
                self.opened.set_result(None)
            elif event.opcode.name == "TEXT":
                self.frames.put_nowait(json.loads(event.data))
        self.flush()

    def send(self, message: dict) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self.flush()

    def flush(self) -> None:
        data = self.protocol.data_to_send()
        if data:
            self.transport.write(b"".join(data))


@pytest.mark.timeout(90)
async def test_a_subscriber_that_stops_reading_gets_every_update_in_order(server):
    """Updates to a client that stops reading back up until the server's sends must wait;
    when it reads again, every Transition chains exactly and the last value is the latest."""
    import socket

    import httpx

    from smalltown.server import eager

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.setblocking(False)
    url = server.ws_url + "/api/sync"
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(lambda: _StalledClient(url), sock=sock)
    await asyncio.wait_for(client.opened, 10)
    client.send(
        {
            "type": "Connect",
            "sessionId": "slow",
            "connectionCount": 0,
            "lastCloseReason": None,
            "clientTs": 0,
        }
    )
    add = {"type": "Add", "queryId": 0, "udfPath": "messages:list", "args": [{"channel": "big"}]}
    client.send(
        {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [add]}
    )
    first = await asyncio.wait_for(client.frames.get(), 10)
    assert first["type"] == "Transition"
    transport.pause_reading()

    waited = []
    original = eager._Resumed.__init__

    def noting(self, *args):  # counts sends that had to wait, without changing them
        waited.append(1)
        original(self, *args)

    eager._Resumed.__init__ = noting
    try:
        body = "x" * 50_000
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            for n in range(30):
                args = {"channel": "big", "author": "a", "body": f"{n}:{body}"}
                reply = await http.post(
                    "/api/mutation", json={"path": "messages:send", "args": args}
                )
                assert reply.json()["status"] == "success"
    finally:
        eager._Resumed.__init__ = original
    transport.resume_reading()

    version, latest = first["endVersion"], None
    while latest is None or len(latest) < 30:
        message = await asyncio.wait_for(client.frames.get(), 30)
        if message["type"] != "Transition":
            continue
        assert message["startVersion"] == version, "broken version chain"
        version = message["endVersion"]
        for mod in message["modifications"]:
            if mod["type"] == "QueryUpdated":
                latest = wire.decode(mod["value"])
    assert latest[-1]["body"].startswith("29:")
    assert waited, "the server never had to wait for this client: the test tested nothing"
    transport.close()
