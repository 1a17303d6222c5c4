"""``aiTown/agentOperations:*``: the actions the engine's agent operations run as.

The engine marks an operation; the runner schedules ``aiTown/agentOperations:<its name>``
in the step's own transaction; the scheduler runs it here. Each action hands the agents'
work (:mod:`smalltown.agents`) this operation's view of the store, :class:`OperationAccess`,
and the world's metered LLM (:class:`~smalltown.worlds.meter.Meter`: the world's hourly
budget checked before each call, every call recorded in its usage).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from smalltown.agents.conversation import say_next_line
from smalltown.agents.memory import remember_conversation
from smalltown.agents.planning import make_plan
from smalltown.agents.town_access import (
    ConversationContext,
    Memory,
    MemoryContext,
    PlanContext,
    RecentMemory,
)
from smalltown.llm import LLMBudgetExceeded, LLMError
from smalltown.llm.budget import SETTING
from smalltown.runtime import internal_action
from smalltown.worlds.meter import Meter


@internal_action
async def generateMessage(
    ctx,
    worldId: str,
    operationId: str,
    agentId: str,
    playerId: str,
    otherPlayerId: str,
    conversationId: str,
    messageUuid: str,
    kind: str,
) -> None:
    """The agent's next line in a conversation, written to ``messages``."""
    await say_next_line(
        OperationAccess(ctx, worldId, operationId, agentId),
        Meter(ctx, worldId),
        playerId,
        otherPlayerId,
        conversationId,
        messageUuid,
        kind,
    )


@internal_action
async def rememberConversation(
    ctx, worldId: str, operationId: str, agentId: str, conversationId: str
) -> None:
    """The agent's memory of a conversation that ended (and reflection, when due)."""
    await remember_conversation(
        OperationAccess(ctx, worldId, operationId, agentId), Meter(ctx, worldId), conversationId
    )


@internal_action
async def makePlan(
    ctx,
    worldId: str,
    operationId: str,
    agentId: str,
    kind: str,
    day: float,
    reason: str = "wake",
    index: float = 0.0,
) -> None:
    """The agent's plan for the rest of today (``kind`` "day"), or the current item's
    steps ("steps"), handed to the engine as ``agentFinishPlan``."""
    await make_plan(
        OperationAccess(ctx, worldId, operationId, agentId),
        Meter(ctx, worldId),
        kind,
        day,
        reason,
        index,
    )


class OperationAccess:
    """:class:`~smalltown.agents.town_access.TownAccess` over an action's context: each
    read a query and each write a mutation of ``agent/*`` and ``aiTown/agentInputs``."""

    def __init__(self, ctx, world_id: str, operation_id: str, agent_id: str) -> None:
        self.ctx = ctx
        self.world_id = world_id
        self.operation_id = operation_id
        self.agent_id = agent_id

    async def _write_input(self, path: str, args: dict[str, Any]) -> None:
        """Run ``path``, a mutation that writes an input for the engine, one at a time in
        this process: inputs are numbered from one counter, so two written at once
        conflict, and one is made again (``worlds/inputs.py: insert_input``)."""
        lane = self.ctx.extensions.get("input_lane")
        if lane is None:  # (a runtime the town's service did not set up)
            lane = self.ctx.extensions.setdefault("input_lane", asyncio.Lock())
        async with lane:
            await self.ctx.run_mutation(path, args)

    @property
    def _operation(self) -> dict[str, str]:
        return {
            "worldId": self.world_id,
            "operationId": self.operation_id,
            "agentId": self.agent_id,
        }

    async def conversation_context(
        self, player_id: str, other_player_id: str, conversation_id: str
    ) -> ConversationContext:
        return await self.ctx.run_query(
            "agent/conversation:conversationContext",
            {
                "worldId": self.world_id,
                "playerId": player_id,
                "otherPlayerId": other_player_id,
                "conversationId": conversation_id,
            },
        )

    async def memory_context(self, conversation_id: str) -> MemoryContext | None:
        context = await self.ctx.run_query(
            "agent/memory:memoryContext",
            {"worldId": self.world_id, "agentId": self.agent_id, "conversationId": conversation_id},
        )
        if not context["found"]:
            return None
        # The query's reply less its flag: the shape agent/memory:memoryContext returns.
        return cast(MemoryContext, {key: value for key, value in context.items() if key != "found"})

    async def vector_search(
        self, vector: list[float], player_id: str, limit: int
    ) -> list[tuple[str, float]]:
        return await self.ctx.vector_search(
            "memoryEmbeddings", "embedding", vector, limit=limit, filter={"playerId": player_id}
        )

    async def news(self, player_id: str, listener_ids: Sequence[str]) -> list[str]:
        return await self.ctx.run_query(
            "agent/memory:news", {"playerId": player_id, "listenerIds": list(listener_ids)}
        )

    async def memories_by_embedding(self, embedding_ids: Sequence[str]) -> list[Memory]:
        return await self.ctx.run_query(
            "agent/memory:memoriesByEmbedding", {"embeddingIds": list(embedding_ids)}
        )

    async def touch_memories(self, memory_ids: Sequence[str], now: float) -> None:
        await self.ctx.run_mutation(
            "agent/memory:touchMemories", {"memoryIds": list(memory_ids), "now": now}
        )

    async def cached_embedding(self, key: bytes) -> list[float] | None:
        return await self.ctx.run_query("agent/embeddingsCache:cachedEmbedding", {"textHash": key})

    async def cache_embedding(self, key: bytes, vector: list[float]) -> None:
        await self.ctx.run_mutation(
            "agent/embeddingsCache:cacheEmbedding", {"textHash": key, "embedding": vector}
        )

    async def store_memory(
        self,
        player_id: str,
        description: str,
        importance: float,
        embedding: list[float],
        data: dict[str, Any],
    ) -> None:
        await self._write_input(
            "agent/memory:storeMemory",
            {
                **self._operation,
                "playerId": player_id,
                "description": description,
                "importance": importance,
                "embedding": embedding,
                "data": data,
            },
        )

    async def reflection_due(self, player_id: str, threshold: float) -> list[RecentMemory] | None:
        return await self.ctx.run_query(
            "agent/memory:reflectionDue", {"playerId": player_id, "threshold": threshold}
        )

    async def store_reflection(
        self,
        player_id: str,
        description: str,
        importance: float,
        embedding: list[float],
        related_memory_ids: Sequence[str],
    ) -> None:
        await self.ctx.run_mutation(
            "agent/memory:storeReflection",
            {
                "playerId": player_id,
                "description": description,
                "importance": importance,
                "embedding": embedding,
                "relatedMemoryIds": list(related_memory_ids),
            },
        )

    async def finish_message(
        self, player_id: str, conversation_id: str, message_uuid: str, text: str, leave: bool
    ) -> None:
        hints = await self.ctx.run_query(
            "agent/conversation:turnHints",
            {
                "worldId": self.world_id,
                "conversationId": conversation_id,
                "author": player_id,
                "text": text,
            },
        )
        await self._write_input(
            "aiTown/agentInputs:finishMessage",
            {
                **self._operation,
                "playerId": player_id,
                "conversationId": conversation_id,
                "messageUuid": message_uuid,
                "text": text,
                "leave": leave,
                "hints": hints,
            },
        )

    async def finish_remember(self) -> None:
        await self._write_input("aiTown/agentInputs:finishRemember", self._operation)

    async def plan_context(self, reason: str) -> PlanContext | None:
        context = await self.ctx.run_query(
            "agent/plan:planContext",
            {"worldId": self.world_id, "agentId": self.agent_id, "reason": reason},
        )
        if not context["found"]:
            return None
        return cast(PlanContext, {key: value for key, value in context.items() if key != "found"})

    async def finish_plan(self, answer: dict[str, Any]) -> None:
        await self._write_input(
            "aiTown/agentInputs:finishPlan", {**self._operation, "answer": answer}
        )

    async def fail_operation(self, problem: LLMError) -> None:
        args: dict[str, Any] = {**self._operation, "error": str(problem)}
        if isinstance(problem, LLMBudgetExceeded):
            args["budget"] = {
                "tokensPerHour": float(problem.tokens_per_hour),
                "resetsAt": problem.resets_at * 1000,
                "setting": SETTING,
            }
        await self._write_input("aiTown/agentInputs:failOperation", args)
