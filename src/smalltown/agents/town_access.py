"""The contract between agents and the town: what agents' work needs of the store and of
the LLM, handed to it rather than reached for.

Agents' operations (``conversation.py``, ``memory.py``, ``reflection.py``, through
``embeddings.py``) read and write nothing themselves. They ask a :class:`TownAccess`, bound
to one operation of one agent, for what they need of the store, and they talk through a
:class:`MeteredLLM`: one world's LLM with its budget checked before each call and every call
recorded. The town implements the first over an action's context
(``town/aiTown/agentOperations.py``); :class:`smalltown.worlds.meter.Meter` is the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, Protocol, TypedDict

from smalltown.llm import LLM, ChatResult, Embedder, LLMError, Persona

#: a character, as agents' work reads it: the persona prompts and the composer take
Person = Persona


class ConversationContext(TypedDict):
    me: Person
    other: Person  # the one answered (of two, the other)
    others: NotRequired[list[Person]]  # everyone else in it, ``other`` first (a group's)
    otherPlayerIds: NotRequired[list[str]]
    transcript: list[list[str]]  # [author name, text], oldest first
    metBefore: bool


class MemoryContext(ConversationContext):
    """A finished conversation, from one participant's side."""

    playerId: str
    otherPlayerId: str


class Memory(TypedDict):
    _id: str
    embeddingId: str
    description: str
    importance: float
    lastAccess: float


class RecentMemory(TypedDict):
    _id: str
    description: str
    importance: NotRequired[float]


class Place(TypedDict):
    """A named place of the town, and its tile."""

    name: str
    x: float
    y: float


class PlanContext(TypedDict):
    """What a resident plans with: who it is, the town's places, the game's minute of
    the day, today's plan so far, and what changed (names, not ids) when re-planning."""

    me: Person
    places: list[Place]
    minute: float
    plan: list[dict[str, Any]]  # {start (minute), place, activity, ...}, in time order
    reason: str | None


class TownAccess(Protocol):
    """The store as one agent operation sees it (``world_id``, ``agent_id``, one operation)."""

    world_id: str
    agent_id: str

    async def conversation_context(
        self, player_id: str, other_player_id: str, conversation_id: str
    ) -> ConversationContext:
        """Who the two are, what has been said so far, and whether they met before."""
        ...

    async def memory_context(self, conversation_id: str) -> MemoryContext | None:
        """The agent's finished conversation; None when it or the agent is gone."""
        ...

    async def vector_search(
        self, vector: list[float], player_id: str, limit: int
    ) -> list[tuple[str, float]]:
        """The player's memory embeddings nearest ``vector``: (embedding id, score)."""
        ...

    async def memories_by_embedding(self, embedding_ids: Sequence[str]) -> list[Memory]: ...

    async def news(self, player_id: str, listener_ids: Sequence[str]) -> list[str]:
        """The player's latest important memory from a talk none of the listeners had."""
        ...

    async def touch_memories(self, memory_ids: Sequence[str], now: float) -> None:
        """The memories were just recalled (they count as recent again)."""
        ...

    async def cached_embedding(self, key: bytes) -> list[float] | None: ...

    async def cache_embedding(self, key: bytes, vector: list[float]) -> None: ...

    async def store_memory(
        self,
        player_id: str,
        description: str,
        importance: float,
        embedding: list[float],
        data: dict[str, Any],
    ) -> None:
        """Keep the memory and, in the same write, finish this remembering operation."""
        ...

    async def reflection_due(self, player_id: str, threshold: float) -> list[RecentMemory] | None:
        """The memories since the player's last reflection, if their summed importance
        passes ``threshold``."""
        ...

    async def store_reflection(
        self,
        player_id: str,
        description: str,
        importance: float,
        embedding: list[float],
        related_memory_ids: Sequence[str],
    ) -> None: ...

    async def finish_message(
        self, player_id: str, conversation_id: str, message_uuid: str, text: str, leave: bool
    ) -> None:
        """Say ``text`` and tell the engine the line is done (``leave``: and the agent goes)."""
        ...

    async def finish_remember(self) -> None:
        """Tell the engine this remembering operation is done (with nothing to remember)."""
        ...

    async def plan_context(self, reason: str) -> PlanContext | None:
        """What the agent plans with (``reason``: why it plans); None when it is gone."""
        ...

    async def finish_plan(self, answer: dict[str, Any]) -> None:
        """Hand the engine the plan (or steps) made, finishing this operation."""
        ...

    async def fail_operation(self, problem: LLMError) -> None:
        """Free the agent from this operation, and show the world why."""
        ...


class MeteredLLM(Protocol):
    """One world's LLM for one operation: the budget checked, every call recorded."""

    llm: LLM | None
    embedder: Embedder

    async def check_budget(self) -> None:
        """Raise :class:`~smalltown.llm.LLMBudgetExceeded` if the world's is spent."""
        ...

    async def chat(self, messages: list[dict[str, str]], **options: Any) -> ChatResult: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
