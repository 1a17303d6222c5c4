"""Inputs: the only way anything outside changes a world.

Each handler validates first and raises :class:`InputError` (the world unchanged) or makes
its change and returns a value. Human inputs name the player they act for; the town
checks that the caller owns it before an input is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from smalltown.engine.constants import MAX_GROUP_SIZE
from smalltown.engine.context import StepContext
from smalltown.engine.conversations import (
    invite_to_group,
    join_group,
    start_conversation,
    why_not_join,
)
from smalltown.engine.geometry import Point
from smalltown.engine.movement import stop, walk_to
from smalltown.engine.pathfinding import occupied_tiles
from smalltown.engine.plans import plan_failed, set_plan
from smalltown.engine.state import Agent, Conversation, Player


class InputError(ValueError):
    """An input that cannot apply; its message is shown to whoever sent it."""


Handler = Callable[[StepContext, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


def apply_input(ctx: StepContext, name: str, args: Any) -> Any:
    fn = HANDLERS.get(name)
    if fn is None:
        raise InputError(f"unknown input {name!r}; known: {', '.join(sorted(HANDLERS))}")
    if not isinstance(args, dict):
        raise InputError(f"{name}: arguments must be an object")
    result = fn(ctx, args)
    # Only an input that applied counts as the human being active.
    player_id = args.get("playerId")
    player = ctx.world.players.get(player_id) if isinstance(player_id, str) else None
    if player is not None and player.human is not None:
        player.last_input = ctx.now
    return result


def _str(args: dict[str, Any], key: str, name: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(f"{name}: {key} must be a non-empty string")
    return value


def _player(ctx: StepContext, args: dict[str, Any], name: str, key: str = "playerId") -> Player:
    player_id = _str(args, key, name)
    player = ctx.world.players.get(player_id)
    if player is None:
        raise InputError(f"{name}: no player {player_id} in this world")
    return player


def _conversation(
    ctx: StepContext, args: dict[str, Any], name: str, player: Player
) -> Conversation:
    conversation_id = _str(args, "conversationId", name)
    conversation = ctx.world.conversations.get(conversation_id)
    if conversation is None:
        raise InputError(f"{name}: no conversation {conversation_id} (it may have ended)")
    if player.id not in conversation.participants:
        raise InputError(f"{name}: {player.id} is not in conversation {conversation_id}")
    return conversation


def _agent(ctx: StepContext, args: dict[str, Any], name: str) -> Agent:
    agent_id = _str(args, "agentId", name)
    agent = ctx.world.agents.get(agent_id)
    if agent is None:
        raise InputError(f"{name}: no agent {agent_id} in this world")
    return agent


def _spawn_point(ctx: StepContext) -> Point:
    taken = occupied_tiles((p.position.x, p.position.y) for p in ctx.world.players.values())
    free = [t for t in ctx.world_map.free_tiles() if t not in taken]
    if not free:
        raise InputError("the town is full: there is no free tile to stand on")
    x, y = free[ctx.rng.randrange(len(free))]
    return Point(float(x), float(y))


@handler("join")
def join(ctx: StepContext, args: dict[str, Any]) -> str:
    """A person joins; ``tokenIdentifier`` says who plays the new player."""
    token = _str(args, "tokenIdentifier", "join")
    if any(p.human == token for p in ctx.world.players.values()):
        raise InputError("join: you are already in this world")
    player = Player(ctx.world.allocate_id("p"), _spawn_point(ctx), human=token, last_input=ctx.now)
    ctx.world.players[player.id] = player
    return player.id


@handler("createAgent")
def create_agent(ctx: StepContext, args: dict[str, Any]) -> dict[str, str]:
    player = Player(ctx.world.allocate_id("p"), _spawn_point(ctx))
    ctx.world.players[player.id] = player
    agent = Agent(ctx.world.allocate_id("a"), player.id)
    ctx.world.add_agent(agent)
    return {"playerId": player.id, "agentId": agent.id}


@handler("leave")
def leave(ctx: StepContext, args: dict[str, Any]) -> None:
    player = _player(ctx, args, "leave")
    remove_player(ctx, player)


def remove_player(ctx: StepContext, player: Player) -> None:
    conversation = ctx.world.conversation_of(player.id)
    if conversation is not None:
        ctx.leave_conversation(conversation, player.id)
    ctx.world.players.pop(player.id, None)
    ctx.archived_players.append(player.to_doc())  # as AI Town archives it: the player alone
    agent = ctx.world.agent_of(player.id)
    if agent is not None:
        ctx.world.remove_agent(agent)


@handler("moveTo")
def move_to(ctx: StepContext, args: dict[str, Any]) -> None:
    player = _player(ctx, args, "moveTo")
    destination = args.get("destination")
    conversation = ctx.world.conversation_of(player.id)
    if conversation is not None and conversation.participants[player.id].status == "participating":
        raise InputError("moveTo: leave the conversation before walking away")
    if destination is None:
        stop(player)
        return
    if not isinstance(destination, dict) or not all(
        isinstance(destination.get(k), (int, float)) and not isinstance(destination.get(k), bool)
        for k in ("x", "y")
    ):
        raise InputError("moveTo: destination must be {x, y} (numbers) or null")
    x, y = destination["x"], destination["y"]
    if not ctx.world_map.inside(round(x), round(y)):
        raise InputError(
            f"moveTo: ({x}, {y}) is outside the map "
            f"({ctx.world_map.width} x {ctx.world_map.height})"
        )
    walk_to(player, Point(float(round(x)), float(round(y))), ctx.now)


@handler("startConversation")
def start(ctx: StepContext, args: dict[str, Any]) -> str:
    player = _player(ctx, args, "startConversation")
    invitee = _player(ctx, args, "startConversation", key="invitee")
    if invitee.id == player.id:
        raise InputError("startConversation: you cannot invite yourself")
    mine = ctx.world.conversation_of(player.id)
    if mine is not None and mine.participants[player.id].status == "participating":
        # Talking already: the invitee is asked into this conversation (a group).
        if ctx.world.conversation_of(invitee.id) is not None:
            raise InputError(f"startConversation: {invitee.id} is already in a conversation")
        if len(mine.participants) >= MAX_GROUP_SIZE:
            raise InputError(f"startConversation: {mine.id} is full ({MAX_GROUP_SIZE} people)")
        invite_to_group(ctx, mine, invitee)
        return mine.id
    for who in (player, invitee):
        if ctx.world.conversation_of(who.id) is not None:
            raise InputError(f"startConversation: {who.id} is already in a conversation")
    return start_conversation(ctx, player.id, invitee.id).id


@handler("acceptInvite")
def accept(ctx: StepContext, args: dict[str, Any]) -> None:
    player = _player(ctx, args, "acceptInvite")
    conversation = _conversation(ctx, args, "acceptInvite", player)
    member = conversation.participants[player.id]
    if member.status != "invited":
        raise InputError(f"acceptInvite: {player.id} was not invited to {conversation.id}")
    member.status = "walkingOver"


@handler("rejectInvite")
def reject(ctx: StepContext, args: dict[str, Any]) -> None:
    player = _player(ctx, args, "rejectInvite")
    conversation = _conversation(ctx, args, "rejectInvite", player)
    if conversation.participants[player.id].status != "invited":
        raise InputError(f"rejectInvite: {player.id} was not invited to {conversation.id}")
    ctx.leave_conversation(conversation, player.id)


@handler("leaveConversation")
def leave_conversation(ctx: StepContext, args: dict[str, Any]) -> None:
    player = _player(ctx, args, "leaveConversation")
    conversation = _conversation(ctx, args, "leaveConversation", player)
    ctx.leave_conversation(conversation, player.id)


@handler("joinConversation")
def join_conversation(ctx: StepContext, args: dict[str, Any]) -> None:
    """A player near a conversation under way joins it (making, or growing, a group)."""
    player = _player(ctx, args, "joinConversation")
    conversation_id = _str(args, "conversationId", "joinConversation")
    conversation = ctx.world.conversations.get(conversation_id)
    if conversation is None:
        raise InputError(f"joinConversation: no conversation {conversation_id} (it may have ended)")
    problem = why_not_join(ctx, conversation, player)
    if problem is not None:
        raise InputError(f"joinConversation: {problem}")
    join_group(ctx, conversation, player)


@handler("startTyping")
def start_typing(ctx: StepContext, args: dict[str, Any]) -> None:
    player = _player(ctx, args, "startTyping")
    conversation = _conversation(ctx, args, "startTyping", player)
    uuid = _str(args, "messageUuid", "startTyping")
    if conversation.participants[player.id].status != "participating":
        raise InputError("startTyping: the conversation has not started yet")
    if conversation.typing is not None and conversation.typing[0] != player.id:
        raise InputError(f"startTyping: {conversation.typing[0]} is typing; wait your turn")
    conversation.typing = (player.id, uuid, ctx.now)


@handler("finishSendingMessage")
def finish_message(ctx: StepContext, args: dict[str, Any]) -> None:
    """A message was written (its text is in the messages table): count it, free the turn."""
    player = _player(ctx, args, "finishSendingMessage")
    conversation = _conversation(ctx, args, "finishSendingMessage", player)
    uuid = _str(args, "messageUuid", "finishSendingMessage")
    addressed, relevance = _turn_hints(args, conversation)
    if conversation.participants[player.id].status != "participating":
        raise InputError("finishSendingMessage: the conversation has not started yet")
    if conversation.typing is not None and conversation.typing[:2] != (player.id, uuid):
        raise InputError(f"finishSendingMessage: {conversation.typing[0]} holds the turn")
    conversation.typing = None
    if len(conversation.participants) > 2:
        conversation.spoke[player.id] = ctx.now
        conversation.said[player.id] = conversation.said.get(player.id, 0) + 1
        conversation.addressed = addressed
        conversation.relevance = relevance
    conversation.last_message = (player.id, ctx.now)
    conversation.num_messages += 1
    _finish_operation(ctx, args)


@handler("agentFinishMessage")
def agent_finish_message(ctx: StepContext, args: dict[str, Any]) -> None:
    """An agent's generated message was written; ``leave`` also ends the conversation."""
    agent = _agent(ctx, args, "agentFinishMessage")
    finish_message(ctx, {**args, "playerId": agent.player_id})
    if args.get("leave"):
        conversation = ctx.world.conversations.get(args["conversationId"])
        if conversation is not None:
            ctx.leave_conversation(conversation, agent.player_id)


@handler("agentFinishRememberConversation")
def agent_finish_remember(ctx: StepContext, args: dict[str, Any]) -> None:
    agent = _agent(ctx, args, "agentFinishRememberConversation")
    agent.to_remember = None
    _finish_operation(ctx, args)


@handler("agentFinishPlan")
def agent_finish_plan(ctx: StepContext, args: dict[str, Any]) -> None:
    """A ``makePlan`` answer: today's plan, or the current item's steps (``plans.py``)."""
    set_plan(ctx, _agent(ctx, args, "agentFinishPlan"), args)


@handler("agentOperationFailed")
def agent_operation_failed(ctx: StepContext, args: dict[str, Any]) -> None:
    """The operation could not finish (the LLM was unreachable, say): free the agent."""
    agent = _agent(ctx, args, "agentOperationFailed")
    if plan_failed(ctx, agent, args.get("operationId")):
        return
    if agent.operation is None or agent.operation.operation_id != args.get("operationId"):
        raise InputError("agentOperationFailed: no such operation in progress")
    agent.operation = None
    conversation = ctx.world.conversation_of(agent.player_id)
    if (
        conversation is not None
        and conversation.typing
        and conversation.typing[0] == agent.player_id
    ):
        conversation.typing = None
        if len(conversation.participants) > 2:
            # A group whose speaker could not speak ends: no one waits on a silent turn.
            ctx.end_conversation(conversation)


def _turn_hints(
    args: dict[str, Any], conversation: Conversation
) -> tuple[tuple[str, ...], dict[str, float]]:
    """A line's ``addressed`` (player ids it names) and ``relevance`` ([player id, score]
    pairs: how much each has to add), both optional, kept for the participants only."""
    addressed = args.get("addressed", [])
    relevance = args.get("relevance", [])
    if not isinstance(addressed, list) or not all(isinstance(p, str) for p in addressed):
        raise InputError("finishSendingMessage: addressed must be a list of player ids")
    if not isinstance(relevance, list) or not all(
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and isinstance(pair[1], (int, float))
        and not isinstance(pair[1], bool)
        and math.isfinite(pair[1])
        for pair in relevance
    ):
        raise InputError("finishSendingMessage: relevance must be [player id, number] pairs")
    members = conversation.participants
    return (
        tuple(p for p in addressed if p in members),
        {p: float(r) for p, r in relevance if p in members},
    )


def _finish_operation(ctx: StepContext, args: dict[str, Any]) -> None:
    agent_id, operation_id = args.get("agentId"), args.get("operationId")
    agent = ctx.world.agents.get(agent_id) if isinstance(agent_id, str) else None
    if agent is not None and agent.operation and agent.operation.operation_id == operation_id:
        agent.operation = None
