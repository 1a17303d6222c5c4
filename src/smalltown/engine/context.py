"""What one step works with, and what it reports."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from smalltown.engine.constants import MAX_PATHFINDS_PER_STEP, PLAYER_CONVERSATION_COOLDOWN_MS
from smalltown.engine.state import Conversation, Player, World, pair_key
from smalltown.engine.world_map import WorldMap


@dataclass(frozen=True)
class StartedOperation:
    """Work the engine hands out (words from an LLM, a memory) and does not wait for.

    Its result comes back later as an input naming ``operation_id``."""

    name: str
    operation_id: str
    args: dict[str, Any]


@dataclass
class StepContext:
    world: World
    world_map: WorldMap
    rng: random.Random
    now: float
    pathfinds_left: int = MAX_PATHFINDS_PER_STEP
    grid: dict[tuple[int, int], list[Player]] | None = None  # who stands where, see movement
    meeting_searches: int = 0  # paths planned for players walking over to talk
    cursors: dict[str, tuple[list[Any], int]] = field(default_factory=dict)  # see movement
    walked: list[Player] = field(default_factory=list)  # per tick: who had a path to follow
    operations: list[StartedOperation] = field(default_factory=list)
    archived_conversations: list[dict[str, Any]] = field(default_factory=list)
    archived_players: list[dict[str, Any]] = field(default_factory=list)

    def leave_conversation(self, conversation: Conversation, player_id: str) -> None:
        """``player_id`` goes; a group goes on while two or more remain, else it ends."""
        if len(conversation.participants) <= 2:
            self.end_conversation(conversation)
            return
        self.world.remove_member(conversation, player_id)
        conversation.left = (*conversation.left, player_id)
        if conversation.typing is not None and conversation.typing[0] == player_id:
            conversation.typing = None
        for turns in (conversation.spoke, conversation.said, conversation.relevance):
            turns.pop(player_id, None)
        conversation.addressed = tuple(p for p in conversation.addressed if p != player_id)
        agent = self.world.agent_of(player_id)
        if agent is not None:
            agent.last_conversation = self.now
            if conversation.num_messages > 0:
                agent.to_remember = conversation.id
        talking = [m for m in conversation.participants.values() if m.status == "participating"]
        if len(talking) < 2:
            self.end_conversation(conversation)  # one left talking, to those on their way

    def end_conversation(self, conversation: Conversation) -> None:
        """Archive it; its agents will remember it and rest before the next one."""
        world = self.world
        world.remove_conversation(conversation)
        ids = list(conversation.participants)
        doc = conversation.to_doc()
        doc["ended"] = float(self.now)
        # Everyone who took part, those who left first included, so all remember all.
        doc["participants"] = ids + [p for p in conversation.left if p not in ids]
        self.archived_conversations.append(doc)
        for player_id in ids:
            agent = world.agent_of(player_id)
            if agent is not None:
                agent.last_conversation = self.now
                if conversation.num_messages > 0:
                    agent.to_remember = conversation.id
        if len(ids) == 2:
            world.recent_pairs[pair_key(*ids)] = self.now
        for pair, ended in list(world.recent_pairs.items()):
            if self.now - ended > PLAYER_CONVERSATION_COOLDOWN_MS:
                del world.recent_pairs[pair]  # old enough not to matter any more
