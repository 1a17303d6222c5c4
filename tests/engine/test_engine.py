"""The engine, step by step: inputs, conversations, agents' rules, determinism."""

import copy

import pytest

from smalltown.engine.constants import (
    HUMAN_IDLE_TIMEOUT_MS,
    INVITE_TIMEOUT_MS,
    MAX_CONVERSATION_MESSAGES,
    TYPING_TIMEOUT_MS,
)
from smalltown.engine.engine import Input, step
from smalltown.engine.geometry import Point
from smalltown.engine.state import World
from smalltown.engine.world_map import EMPTY, WorldMap


def open_map(width=20, height=12, walls=()):
    objects = [[EMPTY] * height for _ in range(width)]
    for x, y in walls:
        objects[x][y] = 3
    return WorldMap(
        width, height, 32, "t.png", 256, 256, [[[0] * height for _ in range(width)]], [objects]
    )


class Sim:
    """A world, its map and a clock; every call is one engine step."""

    def __init__(self, world_map=None, seed=1):
        self.world = World()
        self.map = world_map or open_map()
        self.seed = seed
        self.now = 1_000_000.0
        self.steps = 0
        self.number = 0
        self.operations = []
        self.archived = []

    def run(self, *inputs, steps=1):
        """Apply inputs in the first step; return their results in order."""
        batch = []
        for name, args in inputs:
            self.number += 1
            batch.append(Input(self.number, name, args))
        results = {}
        for i in range(steps):
            out = step(
                self.world,
                self.map,
                batch if i == 0 else [],
                self.now,
                seed=self.seed,
                step_number=self.steps,
            )
            self.now, self.steps = out.end_time, self.steps + 1
            results.update(out.results)
            self.operations += out.operations
            self.archived += out.archived_conversations
        return [results[i.number] for i in batch]

    def ok(self, name, args):
        (result,) = self.run((name, args))
        assert result["kind"] == "ok", result
        return result["value"]

    def error(self, name, args):
        before = copy.deepcopy(self.world.to_document())
        (result,) = self._apply_only(name, args)
        assert result["kind"] == "error", result
        return result["message"], before

    def _apply_only(self, name, args):
        """Apply one input in a zero-length step: nothing else moves."""
        self.number += 1
        out = step(
            self.world,
            self.map,
            [Input(self.number, name, args)],
            self.now,
            seed=self.seed,
            step_number=self.steps,
            duration=0,
        )
        return [out.results[self.number]]

    def place(self, player_id, x, y):
        self.world.players[player_id].position = Point(float(x), float(y))

    def agent(self, x, y):
        ids = self.ok("createAgent", {})
        self.place(ids["playerId"], x, y)
        return ids

    def answer(self, op, text_count=1):
        """Answer a generateMessage operation the way the LLM side will."""
        return self.run(
            (
                "agentFinishMessage",
                {
                    "agentId": op.args["agentId"],
                    "conversationId": op.args["conversationId"],
                    "messageUuid": op.args["messageUuid"],
                    "operationId": op.operation_id,
                    "leave": op.args["kind"] == "leave",
                },
            )
        )


def test_same_seed_and_inputs_give_the_same_world():
    def play(seed):
        sim = Sim(seed=seed)
        for _ in range(4):
            sim.ok("createAgent", {})
        sim.ok("join", {"tokenIdentifier": "ada"})
        sim.run(steps=90)
        return sim.world.to_document(), [(o.name, o.args) for o in sim.operations]

    assert play(7) == play(7)
    assert play(7) != play(8)


def test_two_agents_meet_talk_and_part():
    sim = Sim()
    a = sim.agent(2, 5)
    b = sim.agent(12, 5)
    conversation = sim.ok(
        "startConversation", {"playerId": a["playerId"], "invitee": b["playerId"]}
    )
    # b accepts (agents accept agents with probability 0.8; this seed accepts), both walk.
    for _ in range(60):
        sim.run()
        c = sim.world.conversations.get(conversation)
        if c and all(p.status == "participating" for p in c.participants.values()):
            break
    c = sim.world.conversations[conversation]
    assert all(p.status == "participating" for p in c.participants.values())
    pa, pb = sim.world.players[a["playerId"]], sim.world.players[b["playerId"]]
    assert pa.position.distance(pb.position) < 1.3 and pa.pathfinding is None
    # The creator speaks first, then they take turns; after 8 messages one leaves.
    spoken = 0
    for _ in range(200):
        pending = [o for o in sim.operations if o.name == "generateMessage"]
        if pending:
            op = pending[-1]
            sim.operations.remove(op)
            if spoken == 0:
                assert op.args["playerId"] == a["playerId"] and op.args["kind"] == "start"
            sim.answer(op)
            spoken += 1
        sim.run(steps=3)
        if conversation not in sim.world.conversations:
            break
    assert conversation not in sim.world.conversations
    assert spoken == MAX_CONVERSATION_MESSAGES + 2  # the ninth makes it too long; then goodbye
    archived = sim.archived[-1]
    assert archived["id"] == conversation and archived["numMessages"] == spoken
    remember = [o for o in sim.operations if o.name == "rememberConversation"]
    assert {o.args["agentId"] for o in remember} == {a["agentId"], b["agentId"]}


def test_agents_invite_the_nearest_free_player():
    sim = Sim()
    far = sim.agent(18, 10)
    inviter = sim.agent(2, 2)
    near = sim.agent(5, 2)
    sim.world.players[inviter["playerId"]].pathfinding = None
    # The inviter is walking somewhere: that is when agents invite.
    sim.ok("moveTo", {"playerId": inviter["playerId"], "destination": {"x": 10, "y": 2}})
    for agent_ids in (far, near):
        sim.world.players[agent_ids["playerId"]].activity = None
    sim.run()
    invited = {
        p
        for c in sim.world.conversations.values()
        if c.creator == inviter["playerId"]
        for p in c.participants
    }
    assert near["playerId"] in invited and far["playerId"] not in invited


def test_an_unanswered_invite_expires():
    sim = Sim()
    ada = sim.ok("join", {"tokenIdentifier": "ada"})
    bob = sim.ok("join", {"tokenIdentifier": "bob"})
    c = sim.ok("startConversation", {"playerId": ada, "invitee": bob})
    steps = int(INVITE_TIMEOUT_MS / 1000) + 2
    for _ in range(steps):
        sim.run(("moveTo", {"playerId": ada, "destination": None}))  # stay active
    assert c not in sim.world.conversations


def test_humans_who_keep_acting_stay_and_idle_ones_leave():
    sim = Sim()
    busy = sim.ok("join", {"tokenIdentifier": "busy"})
    idle = sim.ok("join", {"tokenIdentifier": "idle"})
    minutes = int(HUMAN_IDLE_TIMEOUT_MS / 60_000) + 1
    for _ in range(minutes):
        sim.run(("moveTo", {"playerId": busy, "destination": None}), steps=60)
    assert busy in sim.world.players and idle not in sim.world.players


def test_typing_locks_and_expires():
    sim = Sim()
    ada = sim.ok("join", {"tokenIdentifier": "ada"})
    bob = sim.ok("join", {"tokenIdentifier": "bob"})
    sim.place(ada, 3, 3)
    sim.place(bob, 4, 3)
    c = sim.ok("startConversation", {"playerId": ada, "invitee": bob})
    sim.ok("acceptInvite", {"playerId": bob, "conversationId": c})
    assert sim.world.conversations[c].participants[ada].status == "participating"
    sim.ok("startTyping", {"playerId": ada, "conversationId": c, "messageUuid": "m1"})
    message, _ = sim.error(
        "startTyping", {"playerId": bob, "conversationId": c, "messageUuid": "m2"}
    )
    assert "typing" in message
    sim.run(steps=int(TYPING_TIMEOUT_MS / 1000) + 2)
    sim.ok("startTyping", {"playerId": bob, "conversationId": c, "messageUuid": "m2"})
    sim.ok("finishSendingMessage", {"playerId": bob, "conversationId": c, "messageUuid": "m2"})
    assert sim.world.conversations[c].num_messages == 1


BAD_INPUTS = [
    ("nonsense", {}, "unknown input"),
    ("moveTo", {"playerId": "p:99", "destination": {"x": 1, "y": 1}}, "no player"),
    ("moveTo", {"playerId": "P", "destination": {"x": 100, "y": 1}}, "outside the map"),
    ("moveTo", {"playerId": "P", "destination": {"x": "1", "y": 1}}, "numbers"),
    ("startConversation", {"playerId": "P", "invitee": "P"}, "yourself"),
    ("acceptInvite", {"playerId": "P", "conversationId": "c:77"}, "no conversation"),
    ("join", {"tokenIdentifier": ""}, "non-empty"),
    ("join", {"tokenIdentifier": "ada"}, "already"),
    ("startTyping", {"playerId": "P", "conversationId": 5, "messageUuid": "x"}, "non-empty"),
    ("agentOperationFailed", {"agentId": "a:1", "operationId": "o:1"}, "no agent"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_invalid_inputs_are_refused_and_change_nothing(name, args, message):
    sim = Sim()
    ada = sim.ok("join", {"tokenIdentifier": "ada"})
    args = {k: (ada if v == "P" else v) for k, v in args.items()}
    got, before = sim.error(name, args)
    assert message in got
    assert sim.world.to_document() == before


def test_walls_are_walked_around_and_players_do_not_overlap():
    wall = [(10, y) for y in range(0, 11)]
    sim = Sim(open_map(walls=wall))
    a = sim.ok("join", {"tokenIdentifier": "a"})
    b = sim.ok("join", {"tokenIdentifier": "b"})
    sim.place(a, 2, 2)
    sim.place(b, 18, 2)
    for _ in range(40):
        sim.run(
            ("moveTo", {"playerId": a, "destination": {"x": 18, "y": 2}}),
            ("moveTo", {"playerId": b, "destination": {"x": 2, "y": 2}}),
        )
        pa, pb = sim.world.players[a].position, sim.world.players[b].position
        assert pa.distance(pb) >= 0.74
        assert not sim.map.blocked(*pa.tile()) and not sim.map.blocked(*pb.tile())


def test_world_documents_round_trip():
    sim = Sim()
    sim.agent(3, 3)
    sim.agent(6, 3)
    sim.ok("join", {"tokenIdentifier": "ada"})
    sim.run(steps=30)
    doc = sim.world.to_document(bookkeeping=True)
    assert World.from_document(doc).to_document(bookkeeping=True) == doc


def test_a_world_reloaded_from_its_document_every_step_runs_the_same():
    """What the runner does after a restart: continue from the saved document."""

    def play(reload: bool):
        sim = Sim(seed=3)
        for _ in range(6):
            sim.ok("createAgent", {})
        sim.ok("join", {"tokenIdentifier": "ada"})
        for _ in range(150):
            pending = [o for o in sim.operations if o.name == "generateMessage"]
            for op in pending:
                sim.operations.remove(op)
                sim.answer(op)
            sim.run()
            if reload:
                sim.world = World.from_document(sim.world.to_document(bookkeeping=True))
        return sim.world.to_document(bookkeeping=True), len(sim.archived)

    reloaded, talks = play(reload=True)
    assert talks > 0  # conversations happened and ended along the way
    assert (reloaded, talks) == play(reload=False)


def test_a_conversation_nobody_can_end_is_ended_anyway():
    """With no words ever coming back (no LLM), agents are not held forever."""
    from smalltown.engine.constants import AGENT_OPERATION_TIMEOUT_MS, MAX_CONVERSATION_MS

    sim = Sim()
    a = sim.agent(3, 3)
    b = sim.agent(4, 3)
    c = sim.ok("startConversation", {"playerId": a["playerId"], "invitee": b["playerId"]})
    for _ in range(10):
        sim.run()
        conv = sim.world.conversations.get(c)
        if conv and all(p.status == "participating" for p in conv.participants.values()):
            break
    assert c in sim.world.conversations
    sim.run(steps=int((MAX_CONVERSATION_MS + AGENT_OPERATION_TIMEOUT_MS) / 1000) + 5)
    assert c not in sim.world.conversations


def meet_in_a_crowd(sim):
    """Two people walk to meet where a crowd stands on the middle tile and around it;
    steps until they talk (at most 40), and the path searches those steps made."""
    ada = sim.ok("join", {"tokenIdentifier": "ada"})
    bob = sim.ok("join", {"tokenIdentifier": "bob"})
    sim.place(ada, 2, 5)
    sim.place(bob, 12, 5)
    for n, (x, y) in enumerate([(7, 5), (6, 5), (8, 5), (7, 4), (7, 6), (6, 4), (8, 6)]):
        sim.place(sim.ok("join", {"tokenIdentifier": f"crowd{n}"}), x, y)
    (c,) = sim._apply_only("startConversation", {"playerId": ada, "invitee": bob})
    accept = Input(0, "acceptInvite", {"playerId": bob, "conversationId": c["value"]})
    searches = 0
    for n in range(40):
        inputs = [accept] if n == 0 else []
        out = step(sim.world, sim.map, inputs, sim.now, seed=sim.seed, step_number=sim.steps)
        sim.now, sim.steps = out.end_time, sim.steps + 1
        searches += out.path_searches
        members = sim.world.conversations[c["value"]].participants.values()
        if all(m.status == "participating" for m in members):
            return searches, sim.world.players[ada], sim.world.players[bob]
    raise AssertionError(f"they never met ({searches} path searches)")


def test_a_meeting_in_a_crowd_is_planned_once():
    searches, ada, bob = meet_in_a_crowd(Sim())
    # One path each to two free neighbouring tiles beside the crowd, not a new pair of
    # paths every time the conversation is checked (8 times a second).
    assert searches <= 4
    assert ada.position.distance(bob.position) < 1.3


def test_walled_off_pairs_end_their_conversation_at_once():
    wall = [(10, y) for y in range(12)]
    sim = Sim(open_map(walls=wall))
    ada = sim.ok("join", {"tokenIdentifier": "ada"})
    bob = sim.ok("join", {"tokenIdentifier": "bob"})
    sim.place(ada, 2, 5)
    sim.place(bob, 15, 5)
    c = sim.ok("startConversation", {"playerId": ada, "invitee": bob})
    sim.ok("acceptInvite", {"playerId": bob, "conversationId": c})
    sim.run()
    assert c not in sim.world.conversations
    assert sim.archived[-1]["id"] == c


def test_a_player_off_the_centre_of_its_goal_tile_walks_onto_it():
    sim = Sim()
    ada = sim.ok("join", {"tokenIdentifier": "ada"})
    sim.place(ada, 3, 2.6)  # on tile (3, 3), short of its centre
    sim.run(("moveTo", {"playerId": ada, "destination": {"x": 3, "y": 3}}), steps=2)
    player = sim.world.players[ada]
    assert (player.position.x, player.position.y) == (3.0, 3.0)
    assert player.pathfinding is None


def test_agents_do_not_invite_someone_they_cannot_reach():
    wall = [(6, y) for y in range(12)]
    sim = Sim(open_map(walls=wall))
    inviter = sim.agent(4, 2)
    walled_off = sim.agent(8, 2)  # nearer, behind the wall
    reachable = sim.agent(1, 9)
    for ids in (inviter, walled_off, reachable):
        sim.world.players[ids["playerId"]].activity = None
    sim.ok("moveTo", {"playerId": inviter["playerId"], "destination": {"x": 2, "y": 2}})
    invited = {
        p
        for c in sim.world.conversations.values()
        if c.creator == inviter["playerId"]
        for p in c.participants
    }
    assert reachable["playerId"] in invited and walled_off["playerId"] not in invited
