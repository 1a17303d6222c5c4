"""One step of a world: apply its inputs, then tick time forward.

``step`` is pure: given the same world, map, inputs, start time, length and seed it makes
the same changes and reports the same results, whatever machine runs it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from smalltown.engine.agent_rules import decide
from smalltown.engine.constants import (
    HUMAN_IDLE_TIMEOUT_MS,
    MAX_INPUTS_PER_STEP,
    MAX_PATHFINDS_PER_STEP,
    STEP_MS,
    TICK_MS,
)
from smalltown.engine.context import StartedOperation, StepContext
from smalltown.engine.conversations import tick_conversations
from smalltown.engine.history import LocationHistory
from smalltown.engine.inputs import InputError, apply_input, remove_player
from smalltown.engine.movement import tick_movement
from smalltown.engine.state import Player, World
from smalltown.engine.world_map import WorldMap

ENGINE_VERSION = 6  # bump when a rule change would replay old input logs differently
CONVERSATION_TICKS = 8  # conversations are checked every 8th tick (128 ms), and at the end


@dataclass(frozen=True)
class Input:
    number: int
    name: str
    args: dict[str, Any]


@dataclass
class StepResult:
    """What a step reports; the runner saves it with the world."""

    results: dict[int, dict[str, Any]] = field(default_factory=dict)  # by input number
    operations: list[StartedOperation] = field(default_factory=list)
    archived_conversations: list[dict[str, Any]] = field(default_factory=list)
    archived_players: list[dict[str, Any]] = field(default_factory=list)
    end_time: float = 0.0
    duration: float = 0.0
    path_searches: int = 0  # paths planned this step (at most MAX_PATHFINDS_PER_STEP)
    meeting_searches: int = 0  # of which for players walking over to talk


def step_rng(seed: int, step_number: int) -> random.Random:
    """Randomness for one step, from the world's seed and the step's number alone."""
    return random.Random(f"smalltown:{seed}:{step_number}")


def _talkers(world: World) -> list[Player]:
    """Everyone in a conversation: besides walkers, the only players whose location
    changes (turned to face a partner, stopped on arrival)."""
    players = world.players
    return [
        players[member]
        for conversation in world.conversations.values()
        for member in conversation.participants
        if member in players
    ]


def step(
    world: World,
    world_map: WorldMap,
    inputs: list[Input],
    start: float,
    *,
    seed: int,
    step_number: int,
    duration: float = STEP_MS,
    tick: float = TICK_MS,
) -> StepResult:
    """Advance ``world`` (in place) from ``start`` by ``duration`` ms."""
    ctx = StepContext(world, world_map, step_rng(seed, step_number), start)
    result = StepResult()
    for item in inputs[:MAX_INPUTS_PER_STEP]:
        try:
            value = apply_input(ctx, item.name, item.args)
            result.results[item.number] = {"kind": "ok", "value": value}
        except InputError as exc:
            result.results[item.number] = {"kind": "error", "message": str(exc)}
    now = start
    end = start + duration
    ticks = 0
    history = LocationHistory(world.players.values())
    while True:
        ctx.now = now
        tick_movement(ctx, now)
        history.record(now, ctx.walked)
        if ticks % CONVERSATION_TICKS == 0 or now + tick > end:
            tick_conversations(ctx, now)
            history.record(now, _talkers(world))  # turned to a partner, stopped
        if now + tick > end:
            break
        now += tick
        ticks += 1
    ctx.now = end
    for agent in list(world.agents.values()):
        decide(ctx, agent)
    history.record(end, _talkers(world))  # joined a group: turned, stopped
    for player in list(world.players.values()):
        if player.human is not None and end - player.last_input > HUMAN_IDLE_TIMEOUT_MS:
            remove_player(ctx, player)
    world.historical_locations = {
        player_id: packed
        for player_id, packed in history.pack().items()
        if player_id in world.players
    }
    result.operations = ctx.operations
    result.archived_conversations = ctx.archived_conversations
    result.archived_players = ctx.archived_players
    result.end_time = end
    result.path_searches = MAX_PATHFINDS_PER_STEP - ctx.pathfinds_left
    result.meeting_searches = ctx.meeting_searches
    result.duration = duration
    return result
