"""Mutation replies are remembered so that a client replaying an unanswered mutation after
a reconnect gets its reply once, without the mutation running again; and for that client
alone, never for another connection that presents the same sessionId and requestId."""

import asyncio
import json

import jwt
import pytest

from smalltown.runtime import wire
from smalltown.server import create_app

from helpers import RunningServer
from hostile import next_message, open_sync, recorded_server_log


@pytest.fixture
async def server(tmp_path):
    app = create_app(f"sqlite:///{tmp_path}/dedup.db", "example_app")
    async with RunningServer(app) as s:
        with recorded_server_log() as log:
            yield s
        assert log.failures() == []


async def mutate(ws, request_id: int, path: str, args: dict) -> dict:
    await ws.send(
        json.dumps({"type": "Mutation", "requestId": request_id, "udfPath": path, "args": [args]})
    )
    reply = await next_message(ws, "MutationResponse")
    assert reply["requestId"] == request_id
    return reply


async def authenticate(ws, token: str) -> None:
    await ws.send(
        json.dumps({"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0})
    )
    while True:
        message = await next_message(ws)
        assert message["type"] != "AuthError", message
        if message["type"] == "Transition" and message["endVersion"]["identity"] == 1:
            return


def subject(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["sub"]


async def test_another_connection_with_the_same_session_gets_its_own_reply(server):
    """The reported case: a second socket presenting someone's sessionId and requestId
    got their joinWorld reply, player token included, and its own call never ran."""
    ada = await open_sync(server.ws_url, session="shared")
    first = await mutate(ada, 0, "values:sign_in", {"name": "ada"})
    eve = await open_sync(server.ws_url, session="shared")
    second = await mutate(eve, 0, "values:sign_in", {"name": "eve"})
    assert subject(wire.decode(first["result"])) == "ada"
    assert subject(wire.decode(second["result"])) == "eve"
    await ada.close()
    await eve.close()


async def test_another_identity_never_gets_the_reply_even_for_the_same_call(server):
    anonymous = await open_sync(server.ws_url, session="boot")
    token = wire.decode((await mutate(anonymous, 0, "values:sign_in", {"name": "ada"}))["result"])
    await anonymous.close()

    ada = await open_sync(server.ws_url, session="s")
    await authenticate(ada, token)
    mine = await mutate(ada, 0, "values:counter_add", {"name": "ada"})
    assert wire.decode(mine["result"]) == 1.0
    # Someone else on the same sessionId, requestId and call: it runs, for them.
    other = await open_sync(server.ws_url, session="s")
    theirs = await mutate(other, 0, "values:counter_add", {"name": "ada"})
    assert wire.decode(theirs["result"]) == 2.0
    await ada.close()
    await other.close()


async def test_a_reconnecting_client_gets_its_reply_once_without_a_rerun(server):
    boot = await open_sync(server.ws_url, session="boot")
    token = wire.decode((await mutate(boot, 0, "values:sign_in", {"name": "bo"}))["result"])
    await boot.close()

    before = await open_sync(server.ws_url, session="bo-session")
    await authenticate(before, token)
    first = await mutate(before, 0, "values:counter_add", {"name": "bo"})
    await before.close()  # the socket drops; the client replays what it sent, as it does
    after = await open_sync(server.ws_url, session="bo-session")
    await authenticate(after, token)
    replay = await mutate(after, 0, "values:counter_add", {"name": "bo"})
    assert replay == first and wire.decode(replay["result"]) == 1.0
    fresh = await mutate(after, 1, "values:counter_add", {"name": "bo"})
    assert wire.decode(fresh["result"]) == 2.0
    await after.close()


async def test_a_reused_request_id_with_another_call_is_run(server):
    """A replay is the same call: another path or other arguments under a requestId
    already answered is a new call (a client that restarted its count), and runs."""
    ws = await open_sync(server.ws_url, session="restart")
    await mutate(ws, 0, "values:counter_add", {"name": "x"})
    assert wire.decode((await mutate(ws, 1, "values:counter_add", {"name": "x"}))["result"]) == 2
    reused = await mutate(ws, 1, "values:counter_add", {"name": "y"})
    assert wire.decode(reused["result"]) == 1.0  # y's first, not x's reply again
    await ws.close()


async def test_a_replay_while_the_first_still_runs_waits_for_it(tmp_path):
    """The client reconnects while its mutation still runs on the old socket (which the
    server has not seen drop yet); the replay gets the reply of that one run when it
    ends, and the mutation is not started twice."""
    from gated_app import gate

    gate.GATE.clear()
    gate.ENTERED.clear()
    app = create_app(f"sqlite:///{tmp_path}/gated.db", "gated_app")
    async with RunningServer(app) as server:
        first = await open_sync(server.ws_url, session="g")
        call = {"type": "Mutation", "requestId": 0, "udfPath": "gate:held", "args": [{"name": "n"}]}
        await first.send(json.dumps(call))
        await asyncio.wait_for(gate.ENTERED.wait(), 10)
        again = await open_sync(server.ws_url, session="g")
        await again.send(json.dumps(call))
        # The replay must not start the mutation a second time: wait for its frame to be
        # taken (a Ping round trip would do; a query answered after it is simpler).
        add = {"type": "Add", "queryId": 0, "udfPath": "gate:nothing", "args": [{}]}
        await again.send(
            json.dumps(
                {
                    "type": "ModifyQuerySet",
                    "baseVersion": 0,
                    "newVersion": 1,
                    "modifications": [add],
                }
            )
        )
        await next_message(again, "Transition")
        gate.GATE.set()
        reply = await next_message(again, "MutationResponse")
        assert reply["success"] and wire.decode(reply["result"]) == 1.0
        assert wire.decode((await next_message(first, "MutationResponse"))["result"]) == 1.0
        later = {**call, "requestId": 1}
        await again.send(json.dumps(later))
        assert wire.decode((await next_message(again, "MutationResponse"))["result"]) == 2.0
        await first.close()
        await again.close()
