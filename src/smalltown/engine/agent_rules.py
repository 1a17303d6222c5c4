"""What agents decide without an LLM: wander, keep busy, invite, accept, take turns.

Words and memories are not decided here: the engine starts an operation (``generateMessage``,
``rememberConversation``) and carries on; its result arrives later as an input. An agent
does one operation at a time.
"""

from __future__ import annotations

from typing import Any

from smalltown.engine.constants import (
    ACTIVITY_MS,
    AGENT_OPERATION_TIMEOUT_MS,
    AWKWARD_SILENCE_MS,
    CONVERSATION_COOLDOWN_MS,
    GROUP_LINES_EACH,
    INVITE_ACCEPT_PROBABILITY,
    INVITE_ATTEMPT_COOLDOWN_MS,
    MAX_CONVERSATION_MESSAGES,
    MAX_CONVERSATION_MS,
    MESSAGE_COOLDOWN_MS,
    PLAYER_CONVERSATION_COOLDOWN_MS,
)
from smalltown.engine.context import StartedOperation, StepContext
from smalltown.engine.conversations import (
    join_group,
    next_speaker,
    start_conversation,
    why_not_join,
)
from smalltown.engine.geometry import Point
from smalltown.engine.movement import walk_to
from smalltown.engine.pathfinding import regions, regions_from
from smalltown.engine.plans import follow, plan_wanted, replan
from smalltown.engine.state import Activity, Agent, Conversation, Operation, Player, pair_key

ACTIVITIES = (
    ("reading a book", "📖"),
    ("daydreaming", "🤔"),
    ("tending the garden", "🌱"),
    ("sketching the view", "✏️"),
    ("feeding the ducks", "🦆"),
)


def start_operation(ctx: StepContext, agent: Agent, name: str, args: dict[str, Any]) -> str:
    operation_id = ctx.world.allocate_id("o")
    agent.operation = Operation(name, operation_id, ctx.now)
    ctx.operations.append(StartedOperation(name, operation_id, {"agentId": agent.id, **args}))
    return operation_id


def decide(ctx: StepContext, agent: Agent) -> None:
    world, now = ctx.world, ctx.now
    player = world.players.get(agent.player_id)
    if player is None:
        return
    if agent.operation is not None:
        if now - agent.operation.started > AGENT_OPERATION_TIMEOUT_MS:
            agent.operation = None  # its answer never came: do not stay stuck
        else:
            return
    conversation = world.conversation_of(player.id)
    if conversation is not None:
        _in_conversation(ctx, agent, conversation)
        return
    if agent.to_remember is not None:
        start_operation(ctx, agent, "rememberConversation", {"conversationId": agent.to_remember})
        return
    wanted = plan_wanted(ctx, agent)
    if wanted is not None:  # planning does not keep the agent from anything else
        operation_id = ctx.world.allocate_id("o")
        ctx.world.plans[agent.id].pending = operation_id
        args = {"agentId": agent.id, **wanted}
        ctx.operations.append(StartedOperation("makePlan", operation_id, args))
    if player.activity is not None and player.activity.until > now:
        return  # it finishes what it is doing, then sees to its plan
    resting = agent.last_conversation is not None and (
        now - agent.last_conversation < CONVERSATION_COOLDOWN_MS
    )
    if player.pathfinding is not None:
        if not resting and not _maybe_join(ctx, agent):
            _maybe_invite(ctx, agent)
        return
    if follow(ctx, agent, player):  # the day's plan says where to be and what to do
        if not resting and player.pathfinding is None:
            _maybe_invite(ctx, agent)
        return
    if player.activity is not None or resting:
        # After an activity or a conversation, wander off somewhere; after a walk, settle.
        player.activity = None
        free = ctx.world_map.free_tiles()
        x, y = free[ctx.rng.randrange(len(free))]
        walk_to(player, Point(float(x), float(y)), now)
        return
    description, emoji = ACTIVITIES[ctx.rng.randrange(len(ACTIVITIES))]
    player.activity = Activity(description, emoji, now + ACTIVITY_MS)


def _maybe_join(ctx: StepContext, agent: Agent) -> bool:
    """Passing a conversation under way (someone has spoken), join it (the first by id)."""
    world, now = ctx.world, ctx.now
    if agent.last_invite_attempt is not None and (
        now - agent.last_invite_attempt < INVITE_ATTEMPT_COOLDOWN_MS
    ):
        return False
    me = world.players[agent.player_id]
    for conversation in sorted(world.conversations.values(), key=lambda c: c.id):
        if conversation.num_messages > 0 and why_not_join(ctx, conversation, me) is None:
            agent.last_invite_attempt = now
            join_group(ctx, conversation, me)
            return True
    return False


def _maybe_invite(ctx: StepContext, agent: Agent) -> None:
    world, now = ctx.world, ctx.now
    if agent.last_invite_attempt is not None and (
        now - agent.last_invite_attempt < INVITE_ATTEMPT_COOLDOWN_MS
    ):
        return
    me = world.players[agent.player_id]
    best: Player | None = None
    best_distance = float("inf")
    labels, width = regions(ctx.world_map), ctx.world_map.width
    mine = regions_from(ctx.world_map, me.position.tile())
    for other in world.players.values():
        if other.id == me.id or world.conversation_of(other.id) is not None:
            continue
        x, y = other.position.tile()
        if ctx.world_map.inside(x, y) and labels[y * width + x] not in (-1, *mine):
            continue  # walled off from us: they could never meet
        ended = world.recent_pairs.get(pair_key(me.id, other.id))
        if ended is not None and now - ended < PLAYER_CONVERSATION_COOLDOWN_MS:
            continue
        # The nearest free player, by real distance (AI Town picks regardless of distance).
        distance = me.position.distance(other.position)
        if distance < best_distance or (
            distance == best_distance and best is not None and other.id < best.id
        ):
            best, best_distance = other, distance
    if best is None:
        return
    agent.last_invite_attempt = now
    start_conversation(ctx, me.id, best.id)


def _in_conversation(ctx: StepContext, agent: Agent, conversation: Conversation) -> None:
    now, me = ctx.now, agent.player_id
    member = conversation.participants[me]
    other_id = conversation.other(me)
    if member.status == "invited":
        other = ctx.world.players[other_id]
        if other.human is not None or ctx.rng.random() < INVITE_ACCEPT_PROBABILITY:
            member.status = "walkingOver"
            if other.human is not None:  # a visitor's invitation; after a neighbour's
                replan(ctx, agent, f"invitation:{other_id}")  # chat the plan goes on
        else:
            ctx.leave_conversation(conversation, me)  # of two, that ends it
        return
    if member.status != "participating" or conversation.typing is not None:
        return
    if len(conversation.participants) > 2:
        _in_group(ctx, agent, conversation)
        return
    last = conversation.last_message
    if last is not None and now - last[1] < MESSAGE_COOLDOWN_MS:
        return
    started = member.started or now
    too_long = (
        conversation.num_messages > MAX_CONVERSATION_MESSAGES or now - started > MAX_CONVERSATION_MS
    )
    if last is None:
        if conversation.creator != me:
            return  # the one who invited speaks first
        kind = "start"
    elif too_long:
        kind = "leave"
    elif last[0] != me or now - last[1] > AWKWARD_SILENCE_MS:
        kind = "continue"
    else:
        return
    _speak(ctx, agent, conversation, kind, other_id)


def _in_group(ctx: StepContext, agent: Agent, conversation: Conversation) -> None:
    """A group's turn: the one ``next_speaker`` picks speaks; when it picked a person who
    stays silent too long, the agents' pick. A member who has said enough says goodbye."""
    now, me = ctx.now, agent.player_id
    last = conversation.last_message
    if last is not None and now - last[1] < MESSAGE_COOLDOWN_MS:
        return
    players = ctx.world.players
    if last is None:
        if conversation.creator != me:
            return
        speaker: str | None = me
    else:
        speaker = next_speaker(players, conversation, now, agents_only=False)
        if speaker is not None and players[speaker].human is not None:
            if now - last[1] <= AWKWARD_SILENCE_MS:
                return  # the person was picked: their turn
            speaker = next_speaker(players, conversation, now, agents_only=True)
    if speaker != me:
        return
    started = conversation.participants[me].started or now
    said_enough = conversation.said.get(me, 0) >= GROUP_LINES_EACH
    if last is None:
        kind = "start"
    elif said_enough or now - started > MAX_CONVERSATION_MS:
        kind = "leave"
    else:
        kind = "continue"
    answering = last[0] if last is not None and last[0] != me else None
    other_id = answering or min(p for p in conversation.participants if p != me)
    _speak(ctx, agent, conversation, kind, other_id)


def _speak(
    ctx: StepContext, agent: Agent, conversation: Conversation, kind: str, other_id: str
) -> None:
    now, me = ctx.now, agent.player_id
    message_uuid = f"{conversation.id}/{conversation.num_messages}/{me}"
    conversation.typing = (me, message_uuid, now)
    start_operation(
        ctx,
        agent,
        "generateMessage",
        {
            "conversationId": conversation.id,
            "playerId": me,
            "otherPlayerId": other_id,
            "messageUuid": message_uuid,
            "kind": kind,
        },
    )
