"""Conversations: invited → walking over → participating, and how they end."""

from __future__ import annotations

from smalltown.engine.constants import (
    AGENT_OPERATION_TIMEOUT_MS,
    CONVERSATION_DISTANCE,
    INVITE_TIMEOUT_MS,
    MAX_CONVERSATION_MS,
    MIDPOINT_THRESHOLD,
    TYPING_TIMEOUT_MS,
)
from smalltown.engine.context import StepContext
from smalltown.engine.geometry import facing_between, midpoint
from smalltown.engine.movement import stop, walk_to
from smalltown.engine.state import Conversation, Participant


def start_conversation(ctx: StepContext, creator: str, invitee: str) -> Conversation:
    conversation = Conversation(
        id=ctx.world.allocate_id("c"),
        creator=creator,
        created=ctx.now,
        participants={
            creator: Participant(creator, ctx.now, "walkingOver"),
            invitee: Participant(invitee, ctx.now, "invited"),
        },
    )
    ctx.world.add_conversation(conversation)
    return conversation


def tick_conversations(ctx: StepContext, now: float) -> None:
    world = ctx.world
    for conversation in list(world.conversations.values()):
        if conversation.typing is not None and now - conversation.typing[2] > TYPING_TIMEOUT_MS:
            conversation.typing = None
        members = list(conversation.participants.values())
        if len(members) != 2 or any(m.player_id not in world.players for m in members):
            ctx.end_conversation(conversation)
            continue
        a, b = members
        if "participating" in (a.status, b.status):
            started = min(m.started or now for m in members)
            if now - started > MAX_CONVERSATION_MS + AGENT_OPERATION_TIMEOUT_MS:
                # Nobody managed to say goodbye (an LLM that never answers, say): end it
                # anyway, so no one is held in a conversation forever.
                ctx.end_conversation(conversation)
            continue
        if now - max(a.invited, b.invited) > INVITE_TIMEOUT_MS:
            ctx.end_conversation(conversation)  # not accepted, or never met, in time
            continue
        if a.status == "invited" or b.status == "invited":
            continue
        pa, pb = world.players[a.player_id], world.players[b.player_id]
        distance = pa.position.distance(pb.position)
        if distance < CONVERSATION_DISTANCE:
            for member, player, other in ((a, pa, pb), (b, pb, pa)):
                member.status, member.started = "participating", now
                stop(player)
                player.facing = facing_between(player.position, other.position, player.facing)
            continue
        # Walk towards each other; from afar, towards the middle.
        for player, other in ((pa, pb), (pb, pa)):
            target = (
                other.position
                if distance < MIDPOINT_THRESHOLD
                else midpoint(pa.position, pb.position)
            )
            current = player.pathfinding
            if current is None or current.destination.distance(target) > 1.0:
                walk_to(player, target, now)
