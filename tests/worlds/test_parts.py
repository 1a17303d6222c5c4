"""A world stored as parts reads back as the document it was, in its order, however its
lists change from one save to the next; a save that changes nothing writes nothing."""

import json
import random

from smalltown.engine.geometry import Point
from smalltown.engine.state import (
    Agent,
    Conversation,
    Participant,
    Pathfinding,
    Plan,
    Player,
    World,
)
from smalltown.store import open_store
from smalltown.town.schema import schema
from smalltown.worlds import parts


def _world(rng: random.Random, world: World) -> World:
    """``world`` changed as steps change one: some leave, some come (last), some move,
    pairs end and talk again (last again), plans change."""
    for player_id in list(world.players):
        roll = rng.random()
        if roll < 0.15:
            del world.players[player_id]
            world.historical_locations.pop(player_id, None)
        elif roll < 0.5:
            player = world.players[player_id]
            player.position = Point(rng.randrange(40), rng.randrange(40))
            if rng.random() < 0.5:
                path = [(float(n), 1.0, 1.0, 0.0, float(n * 100)) for n in range(rng.randrange(5))]
                player.pathfinding = Pathfinding(Point(3, 4), 0.0, "moving", path=path)
            else:
                player.pathfinding = None
            world.historical_locations[player_id] = rng.randbytes(rng.randrange(1, 30))
    for _ in range(rng.randrange(4)):
        player = Player(world.allocate_id("p"), Point(rng.randrange(40), rng.randrange(40)))
        world.players[player.id] = player
        agent = Agent(world.allocate_id("a"), player.id)
        world.add_agent(agent)
        world.plans[agent.id] = Plan(agent.id, day=rng.randrange(3))
    for agent in world.agents.values():
        if rng.random() < 0.2:
            agent.last_conversation = float(rng.randrange(1000))
    players = list(world.players)
    if len(players) >= 2 and rng.random() < 0.5:
        a, b = rng.sample(players, 2)
        world.add_conversation(
            Conversation(
                world.allocate_id("c"),
                a,
                0.0,
                {p: Participant(p, 0.0, "participating", 1.0) for p in (a, b)},
                spoke={a: 1.0} if rng.random() < 0.5 else {},
            )
        )
    for conversation in list(world.conversations.values()):
        if rng.random() < 0.3:
            world.remove_conversation(conversation)
    for pair in list(world.recent_pairs):
        if rng.random() < 0.3:
            del world.recent_pairs[pair]  # and perhaps it comes back, at the end
    for _ in range(rng.randrange(3)):
        pair = f"p:{rng.randrange(30)}|p:{rng.randrange(30)}"
        world.recent_pairs.pop(pair, None)
        world.recent_pairs[pair] = float(rng.randrange(1000))
    for plan in world.plans.values():
        if rng.random() < 0.2:
            plan.replans += 1
    return world


def _text(value) -> str:
    return json.dumps(value, default=repr)


async def test_saves_read_back_exactly_and_a_save_that_changes_nothing_writes_nothing(
    store_url,
):
    store = await open_store(store_url, schema)
    try:
        world_id = await store.run(lambda tx: tx.insert("worlds", {parts.MARKER: True}))
        rng, world = random.Random(5), World()
        for _ in range(25):
            document = _world(rng, world).to_document(bookkeeping=True)
            stored = await store.read(lambda tx: parts.load(tx, world_id))
            await store.run(lambda tx, s=stored, d=document: parts.save(tx, world_id, s, d))
            again = await store.read(lambda tx: parts.load(tx, world_id))
            # the same lists in the same order, each entry's fields in the same order
            assert set(again.document) == set(document)
            for field, value in document.items():
                assert _text(again.document[field]) == _text(value), field
            aitown = await store.read(lambda tx: parts.read_world(tx, world_id))
            assert {k: v for k, v in aitown.items() if not k.startswith("_")} == {
                k: v for k, v in document.items() if k not in (parts.PAIRS, parts.PLANS)
            }
            unchanged = await store.transact(
                lambda tx, s=again, d=document: parts.save(tx, world_id, s, d)
            )
            assert unchanged.writes == () and unchanged.bytes_written == 0
    finally:
        await store.close()


async def test_a_whole_document_is_read_as_it_is_and_stored_as_parts_by_its_next_save(
    store_url,
):
    """A world imported whole, over parts left from an earlier life of the same world:
    the document is the truth, and its first save leaves only its own parts."""
    store = await open_store(store_url, schema)
    try:
        rng = random.Random(9)
        earlier = _world(rng, _world(rng, World())).to_document(bookkeeping=True)
        whole = _world(rng, World(next_id=500)).to_document()
        world_id = await store.run(lambda tx: tx.insert("worlds", {parts.MARKER: True}))
        await store.run(
            lambda tx: parts.save(tx, world_id, parts.Stored({}, {}, whole=False), earlier)
        )
        await store.run(lambda tx: tx.replace(world_id, whole))
        read = await store.read(lambda tx: parts.read_world(tx, world_id, ("players",)))
        assert {k: v for k, v in read.items() if not k.startswith("_")} == whole
        stored = await store.read(lambda tx: parts.load(tx, world_id))
        assert stored.whole and stored.document == whole
        await store.run(lambda tx: parts.save(tx, world_id, stored, {**whole, parts.PAIRS: []}))
        again = await store.read(lambda tx: parts.load(tx, world_id))
        assert not again.whole and again.document == {**whole, parts.PAIRS: [], parts.PLANS: []}
        own = {(kind, key) for kind, entries in parts.split(whole).items() for key, _ in entries}
        assert set(again.rows) == own
    finally:
        await store.close()


async def _lookups(store, world_id: str, document: dict) -> None:
    """Each player's agent and each agent's plan, read one by one, are the document's."""
    agents = {a["playerId"]: a for a in document.get("agents", [])}
    plans = {p["agentId"]: p for p in document.get(parts.PLANS, [])}
    for player in document.get("players", []):
        found = await store.read(lambda tx, p=player: parts.read_agent_of(tx, world_id, p["id"]))
        assert found == agents.get(player["id"])
    for agent in agents.values():
        plan = await store.read(lambda tx, a=agent: parts.read_plan(tx, world_id, a["id"]))
        assert plan == plans.get(agent["id"])
    for nobody in ("p:gone", 7):
        assert await store.read(lambda tx, n=nobody: parts.read_agent_of(tx, world_id, n)) is None


async def test_a_players_agent_and_an_agents_plan_are_read_one_by_one(store_url):
    """As the world changes (agents come and go), stored in parts, stored whole, and
    stored in parts from before the player-to-agent index."""
    store = await open_store(store_url, schema)
    try:
        world_id = await store.run(lambda tx: tx.insert("worlds", {parts.MARKER: True}))
        rng, world = random.Random(11), World()
        for _ in range(8):
            document = _world(rng, world).to_document(bookkeeping=True)
            stored = await store.read(lambda tx: parts.load(tx, world_id))
            await store.run(lambda tx, s=stored, d=document: parts.save(tx, world_id, s, d))
            await _lookups(store, world_id, document)
        assert document["agents"], "the world was meant to have agents by now"

        async def unindex(tx):
            for row in await tx.query(parts.TABLE, parts.INDEX, eq={"worldId": world_id}):
                if row["kind"] == parts.AGENT_OF:
                    await tx.delete(row["_id"])

        await store.run(unindex)
        await _lookups(store, world_id, document)

        whole = {k: v for k, v in document.items() if k not in (parts.PAIRS, parts.PLANS)}
        await store.run(lambda tx: tx.replace(world_id, whole))
        await _lookups(store, world_id, {**whole, parts.PLANS: []})
    finally:
        await store.close()
