"""Who may call each public function of the town, called as nobody, as another player and
as the admin: a refusal is a typed error and changes nothing. The table names every public
function the town registers, so a new one without a row fails here."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from smalltown.runtime import (
    ADMIN,
    ANONYMOUS,
    FunctionError,
    Identity,
    Registry,
    Runtime,
    session_identity,
)
from smalltown.runtime.runtime import with_system_tables
from smalltown.store import open_store
from smalltown.town.defaults import town_map
from smalltown.town.schema import schema
from smalltown.worlds.creation import create_world
from smalltown.worlds.inputs import insert_input
from smalltown.worlds.parts import read_world
from smalltown.worlds.runner import WorldRunner

ANYONE = "anyone"  # a public read, or the way in (joining, viewing)
OWNER = "the player's own person, or the admin"  # acts for the player its args name
SELF = "a signed-in player, for their own player"  # no player in its args: the caller's
ADMIN_ONLY = "the admin"

#: who may call: each caller's expected outcome (True: allowed)
ALLOWED = {
    ANYONE: {"nobody": True, "another player": True, "a guest": True, "admin": True},
    OWNER: {"nobody": False, "another player": False, "a guest": False, "admin": True},
    SELF: {"nobody": False, "another player": True, "a guest": True, "admin": False},
    ADMIN_ONLY: {"nobody": False, "another player": False, "a guest": False, "admin": True},
}
#: "a guest" is a sync client with no token, known by its session (AI Town's page)
CALLERS = {
    "nobody": ANONYMOUS,
    "another player": Identity("user", "c"),
    "a guest": session_identity("a-session-id"),
    "admin": ADMIN,
}


@dataclass
class Town:
    world_id: str
    engine_id: str
    a: str  # A's player (user "a"), talking with B (user "b")
    b: str
    c: str  # the caller "another player" (user "c"), in no conversation
    conversation: str
    input_id: str


Args = Callable[[Town], dict[str, Any]]


def world(t: Town) -> dict[str, Any]:
    return {"worldId": t.world_id}


def player_a(t: Town) -> dict[str, Any]:
    return {"worldId": t.world_id, "playerId": t.a}


def conversation(t: Town) -> dict[str, Any]:
    return {"worldId": t.world_id, "conversationId": t.conversation}


#: calls "another player" makes in their own name that must still be refused
STRANGERS: dict[str, Args] = {
    "messages:writeMessage": lambda t: {
        **conversation(t),
        "messageUuid": "m-c",
        "playerId": t.c,
        "text": "A, forget your plan",
    },
}

TABLE: dict[str, tuple[str, Args]] = {
    "aiTown/main:inputStatus": (ANYONE, lambda t: {"inputId": t.input_id}),
    "characters:choosable": (ANYONE, lambda t: {}),
    "characters:sheets": (ANYONE, world),
    "characters:animatedSprites": (ANYONE, world),
    "feed:observe": (OWNER, player_a),
    "messages:listMessages": (ANYONE, conversation),
    "messages:conversationLines": (ANYONE, conversation),
    "messages:writeMessage": (
        OWNER,
        lambda t: {**conversation(t), "messageUuid": "m-1", "playerId": t.a, "text": "hi"},
    ),
    "music:getBackgroundMusic": (ANYONE, lambda t: {}),
    "testing:stopAllowed": (ANYONE, lambda t: {}),
    "testing:stop": (ADMIN_ONLY, world),
    "testing:resume": (ADMIN_ONLY, world),
    "testing:kick": (ADMIN_ONLY, world),
    "world:defaultWorldStatus": (ANYONE, lambda t: {}),
    "world:worldState": (ANYONE, world),
    "world:worldView": (ANYONE, world),
    "world:worldRoster": (ANYONE, world),
    "world:worldConversations": (ANYONE, world),
    "world:playerView": (ANYONE, player_a),
    "viewport:region": (
        ANYONE,
        lambda t: {**world(t), "x": 0, "y": 0, "width": 16, "height": 16, "include": [t.a]},
    ),
    "viewport:players": (ANYONE, lambda t: {**world(t), "playerIds": [t.a]}),
    "viewport:overview": (ANYONE, world),
    "world:worldClock": (ANYONE, world),
    "world:listWorlds": (ANYONE, lambda t: {}),
    "world:llmUsage": (ANYONE, world),
    "world:playerDetails": (ANYONE, player_a),
    "world:gameDescriptions": (ANYONE, world),
    "world:userStatus": (ANYONE, world),
    "world:joinWorld": (ANYONE, lambda t: {**world(t), "name": "Cy", "character": "f1"}),
    "world:sendWorldInput": (
        OWNER,
        lambda t: {
            "engineId": t.engine_id,
            "name": "moveTo",
            "args": {"playerId": t.a, "destination": {"x": 3.0, "y": 3.0}},
        },
    ),
    "world:leaveWorld": (SELF, world),
    "world:heartbeatWorld": (ANYONE, world),
    "world:previousConversation": (ANYONE, player_a),
}

REGISTRY = Registry.from_package("smalltown.town")


def test_the_table_names_every_public_function_of_the_town():
    public = {spec.path for spec in REGISTRY if spec.public}
    assert set(TABLE) == public, "give each public function a row: who may call it"


async def _town(store, runtime) -> Town:
    """A world where A, B and C play (as users a, b and c), A has invited B to talk."""
    world_id = await create_world(store, town_map(), [])
    status = await store.read(
        lambda tx: tx.first("worldStatus", "worldId", eq={"worldId": world_id})
    )
    engine_id = status["engineId"]
    clock = [status["lastViewed"]]
    runner = WorldRunner(runtime, clock=lambda: clock[0], on_operations=lambda w, o: None)

    async def send(name, args):
        return await store.run(lambda tx: insert_input(tx, engine_id, name, args))

    async def step():
        clock[0] += 1000
        await runner.step_world(world_id)
        return await store.read(lambda tx: read_world(tx, world_id))

    for who in ("a", "b", "c"):
        input_id = await send("join", {"tokenIdentifier": who, "name": who.upper()})
    players = {p["human"]: p["id"] for p in (await step())["players"]}
    await send("startConversation", {"playerId": players["a"], "invitee": players["b"]})
    (talk,) = (await step())["conversations"]
    return Town(world_id, engine_id, players["a"], players["b"], players["c"], talk["id"], input_id)


async def _everything(store) -> dict[str, list]:
    tables = [t.name for t in with_system_tables(schema).tables]
    return await store.read(lambda tx: _read_all(tx, tables))


async def _read_all(tx, tables):
    return {name: await tx.query(name) for name in tables}


@pytest.mark.parametrize("path", sorted(TABLE))
async def test_each_function_refuses_whoever_may_not_call_it(tmp_path, path):
    store = await open_store(f"sqlite:///{tmp_path}/authorization.db")
    try:
        runtime = await Runtime.create(store, schema, REGISTRY)
        town = await _town(store, runtime)
        who, args = TABLE[path]
        spec = REGISTRY.get(path, public_only=True)
        call = runtime.query if spec.kind == "query" else runtime.mutation
        for caller, allowed in ALLOWED[who].items():
            before = await _everything(store)
            if allowed:
                await call(path, args(town), CALLERS[caller])
                if spec.kind == "query":
                    assert await _everything(store) == before, f"{path} as {caller} wrote"
                continue
            with pytest.raises(FunctionError) as refused:
                await call(path, args(town), CALLERS[caller])
            assert type(refused.value) is not FunctionError, f"{path}: an untyped refusal"
            assert await _everything(store) == before, f"{path} as {caller}: refused, yet wrote"
        if path in STRANGERS:  # in their own name, into what is not theirs
            before = await _everything(store)
            with pytest.raises(FunctionError):
                await call(path, STRANGERS[path](town), CALLERS["another player"])
            assert await _everything(store) == before, f"{path}: a stranger wrote"
    finally:
        await store.close()


async def test_joining_a_conversation_is_for_your_own_player_only(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/authorization.db")
    try:
        runtime = await Runtime.create(store, schema, REGISTRY)
        town = await _town(store, runtime)
        join = {
            "engineId": town.engine_id,
            "name": "joinConversation",
            "args": {"playerId": town.c, "conversationId": town.conversation},
        }
        before = await _everything(store)
        with pytest.raises(FunctionError) as refused:
            await runtime.mutation("world:sendWorldInput", join, Identity("user", "a"))
        assert "is not yours" in str(refused.value)
        assert await _everything(store) == before
        # C may ask for C (a person's input; the engine then judges whether C is near).
        await runtime.mutation("world:sendWorldInput", join, Identity("user", "c"))
        inputs = await store.read(lambda tx: tx.query("inputs"))
        assert inputs[-1]["name"] == "joinConversation"
    finally:
        await store.close()
