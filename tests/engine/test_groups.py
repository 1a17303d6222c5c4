"""Conversations of three or more: joining, taking turns, leaving, failing, in the engine."""

from test_engine import Sim

from smalltown.engine.constants import GROUP_LINES_EACH, JOIN_DISTANCE
from smalltown.engine.state import World


def talking_pair(sim):
    """Two agents side by side, participating; returns (a, b, conversation id)."""
    a, b = sim.agent(5, 5), sim.agent(6, 5)
    conversation = sim.ok(
        "startConversation", {"playerId": a["playerId"], "invitee": b["playerId"]}
    )
    for _ in range(20):
        sim.run()
        c = sim.world.conversations.get(conversation)
        if c and all(p.status == "participating" for p in c.participants.values()):
            return a, b, conversation
    raise AssertionError("the two never started talking")


def next_line(sim, steps=40):
    """The next generateMessage the engine starts (running steps until there is one)."""
    for _ in range(steps):
        pending = [o for o in sim.operations if o.name == "generateMessage"]
        if pending:
            sim.operations.remove(pending[0])
            return pending[0]
        sim.run()
    raise AssertionError("nobody was given a turn")


def say(sim, op, **hints):
    """Answer a line the way the town does, with its turn hints."""
    (result,) = sim.run(
        (
            "agentFinishMessage",
            {
                "agentId": op.args["agentId"],
                "conversationId": op.args["conversationId"],
                "messageUuid": op.args["messageUuid"],
                "operationId": op.operation_id,
                "leave": op.args["kind"] == "leave",
                **hints,
            },
        )
    )
    assert result["kind"] == "ok", result


def test_three_take_turns_by_who_was_named_and_who_was_quiet():
    sim = Sim()
    a, b, conversation = talking_pair(sim)
    c = sim.agent(5, 6)
    sim.ok("joinConversation", {"playerId": c["playerId"], "conversationId": conversation})
    group = sim.world.conversations[conversation]
    assert set(group.participants) == {a["playerId"], b["playerId"], c["playerId"]}
    first = next_line(sim)
    assert first.args["playerId"] == a["playerId"] and first.args["kind"] == "start"
    # a names c: c speaks next, though b has waited as long.
    say(sim, first, addressed=[c["playerId"]])
    second = next_line(sim)
    assert second.args["playerId"] == c["playerId"]
    assert second.args["otherPlayerId"] == a["playerId"]  # answering the one who spoke
    # c names nobody; b has something to add (and has been quiet longest): b.
    say(sim, second, relevance=[[b["playerId"], 1.5], [a["playerId"], 0.0]])
    assert next_line(sim).args["playerId"] == b["playerId"]
    # The turn-taking survives the world being reloaded from its documents.
    reloaded = World.from_document(sim.world.to_document(), sim.world.bookkeeping())
    assert reloaded.conversations[conversation].spoke == group.spoke
    assert reloaded.conversations[conversation].relevance == group.relevance


def test_one_leaves_and_the_other_two_go_on_then_it_ends():
    sim = Sim()
    a, b, conversation = talking_pair(sim)
    c = sim.agent(6, 6)
    sim.ok("joinConversation", {"playerId": c["playerId"], "conversationId": conversation})
    say(sim, next_line(sim))
    sim.ok("leaveConversation", {"playerId": b["playerId"], "conversationId": conversation})
    group = sim.world.conversations[conversation]
    assert set(group.participants) == {a["playerId"], c["playerId"]}
    assert sim.world.conversation_of(b["playerId"]) is None
    agent_b = sim.world.agents[b["agentId"]]
    assert agent_b.to_remember == conversation  # it remembers what it heard
    # The two carry on by the rules for two, until a goodbye ends it.
    for _ in range(30):
        op = next_line(sim, steps=60)
        assert op.args["playerId"] in (a["playerId"], c["playerId"])
        say(sim, op)
        if conversation not in sim.world.conversations:
            break
    assert conversation not in sim.world.conversations
    for who in (a, b, c):
        assert sim.world.conversation_of(who["playerId"]) is None


def test_group_members_say_goodbye_one_by_one():
    sim = Sim()
    _a, _b, conversation = talking_pair(sim)
    c = sim.agent(6, 6)
    sim.ok("joinConversation", {"playerId": c["playerId"], "conversationId": conversation})
    sizes, kinds = [], []
    for _ in range(60):
        if conversation not in sim.world.conversations:
            break
        sizes.append(len(sim.world.conversations[conversation].participants))
        op = next_line(sim, steps=60)
        kinds.append(op.args["kind"])
        say(sim, op)
    assert conversation not in sim.world.conversations
    assert kinds.count("leave") >= 2 and sizes[0] == 3 and 2 in sizes
    assert kinds.index("leave") >= 3 * GROUP_LINES_EACH - 2  # everyone had their say first
    archived = sim.archived[-1]
    assert (
        archived["id"] == conversation and len(archived["participants"]) == 3
    )  # all who took part


def test_a_failed_line_ends_the_group_and_frees_everyone():
    sim = Sim()
    a, b, conversation = talking_pair(sim)
    c = sim.agent(6, 6)
    sim.ok("joinConversation", {"playerId": c["playerId"], "conversationId": conversation})
    op = next_line(sim)
    sim.ok(
        "agentOperationFailed",
        {"agentId": op.args["agentId"], "operationId": op.operation_id},
    )
    assert conversation not in sim.world.conversations
    for who in (a, b, c):
        assert sim.world.conversation_of(who["playerId"]) is None
    assert set(sim.archived[-1]["participants"]) == {a["playerId"], b["playerId"], c["playerId"]}


def test_a_person_joins_a_group_only_when_near_and_is_given_the_turn_when_named():
    sim = Sim()
    a, b, conversation = talking_pair(sim)
    human = sim.ok("join", {"tokenIdentifier": "ada"})
    sim.place(human, 15, 10)
    message, before = sim.error(
        "joinConversation", {"playerId": human, "conversationId": conversation}
    )
    assert f"within {JOIN_DISTANCE:g} tiles" in message
    assert sim.world.to_document() == before
    message, _ = sim.error("joinConversation", {"playerId": human, "conversationId": "c:999"})
    assert "no conversation c:999" in message
    sim.place(human, 5, 7)
    sim.ok("joinConversation", {"playerId": human, "conversationId": conversation})
    message, _ = sim.error("joinConversation", {"playerId": human, "conversationId": conversation})
    assert "already in a conversation" in message
    op = next_line(sim)
    say(sim, op, addressed=[human])
    sim.run(steps=5)
    # Named, the person has the turn: the agents wait for them.
    assert not [o for o in sim.operations if o.name == "generateMessage"]
    sim.ok("startTyping", {"playerId": human, "conversationId": conversation, "messageUuid": "h1"})
    sim.ok(
        "finishSendingMessage",
        {"playerId": human, "conversationId": conversation, "messageUuid": "h1"},
    )
    assert next_line(sim).args["playerId"] in (a["playerId"], b["playerId"])
    message, _ = sim.error(
        "finishSendingMessage",
        {
            "playerId": human,
            "conversationId": conversation,
            "messageUuid": "h2",
            "relevance": [["p:1", float("nan")]],
        },
    )
    assert "relevance must be" in message


def test_an_agent_walking_past_a_conversation_joins_it():
    sim = Sim()
    a, _b, conversation = talking_pair(sim)
    say(sim, next_line(sim))  # under way: someone has spoken
    row = sim.world.players[a["playerId"]].position.y + 1
    c = sim.agent(1, row)
    sim.world.players[c["playerId"]].activity = None
    sim.ok("moveTo", {"playerId": c["playerId"], "destination": {"x": 15, "y": row}})
    for _ in range(30):
        sim.run()
        if sim.world.conversation_of(c["playerId"]) is not None:
            break
    assert sim.world.conversation_of(c["playerId"]).id == conversation


def test_a_participant_invites_a_third_who_walks_over_and_takes_part():
    sim = Sim()
    a, b, conversation = talking_pair(sim)
    human = sim.ok("join", {"tokenIdentifier": "ada"})
    sim.place(human, 15, 9)
    assert sim.ok("startConversation", {"playerId": a["playerId"], "invitee": human}) == (
        conversation
    )
    group = sim.world.conversations[conversation]
    assert group.participants[human].status == "invited"
    sim.ok("acceptInvite", {"playerId": human, "conversationId": conversation})
    for _ in range(40):
        sim.run()
        if group.participants[human].status == "participating":
            break
    assert group.participants[human].status == "participating"
    me = sim.world.players[human].position
    assert (
        min(me.distance(sim.world.players[p].position) for p in (a["playerId"], b["playerId"])) < 2
    )
    # One who declines leaves the rest talking.
    bo = sim.ok("join", {"tokenIdentifier": "bo"})
    message, _ = sim.error("startConversation", {"playerId": b["playerId"], "invitee": human})
    assert "already in a conversation" in message
    sim.ok("startConversation", {"playerId": b["playerId"], "invitee": bo})
    assert group.participants[bo].status == "invited"
    sim.ok("rejectInvite", {"playerId": bo, "conversationId": conversation})
    assert sim.world.conversation_of(bo) is None
    assert set(group.participants) == {a["playerId"], b["playerId"], human}
    assert sim.world.conversations[conversation] is group


def test_an_invited_one_left_with_a_single_talker_ends_the_conversation():
    sim = Sim()
    a, b, conversation = talking_pair(sim)
    human = sim.ok("join", {"tokenIdentifier": "ada"})
    sim.ok("startConversation", {"playerId": a["playerId"], "invitee": human})
    sim.ok("leaveConversation", {"playerId": b["playerId"], "conversationId": conversation})
    assert conversation not in sim.world.conversations
    for who in (a["playerId"], b["playerId"], human):
        assert sim.world.conversation_of(who) is None
