"""One operation's LLM calls for one world: checked against the world's budget before each
call, recorded in the store (``usage:record``) after it.

The world's tokens this hour are read once per operation and then taken from what each
record returns, so a call costs one small write and no extra read. Calls already in flight
in other operations may carry a world a little past its budget; none starts after it.
A meter is what agents' work talks through (``agents/town_access.py: MeteredLLM``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from smalltown.llm import LLM, ChatResult, Embedder, LLMError, LLMUnavailable
from smalltown.llm.budget import check, hour_of


class Meter:
    """The world's LLM and embedder, as ``ctx.extensions`` holds them, metered against
    the budget there (``llm_tokens_per_hour``; none: no cap)."""

    def __init__(self, ctx, world_id: str) -> None:
        self.ctx = ctx
        self.world_id = world_id
        self.llm: LLM | None = ctx.extensions.get("llm")
        self.embedder: Embedder = ctx.extensions.get("embedder")
        self.budget: int | None = ctx.extensions.get("llm_tokens_per_hour")
        #: seconds since the epoch; a runtime extension may stand in for the wall clock
        self.clock = ctx.extensions.get("clock", time.time)
        self._hour: int | None = None
        self._used = 0.0

    async def check_budget(self) -> None:
        """Raise LLMBudgetExceeded, with when it refills and the fix, if the world's is spent."""
        if self.budget is None:
            return
        now = self.clock()
        if hour_of(now) != self._hour:
            self._hour = hour_of(now)
            self._used = await self.ctx.run_query(
                "usage:tokensThisHour", {"worldId": self.world_id, "hour": float(self._hour)}
            )
        check(self.budget, self._used, now)

    async def chat(self, messages: list[dict[str, str]], **options: Any) -> ChatResult:
        await self.check_budget()
        if self.llm is None:
            raise LLMUnavailable("this process has no LLM to chat with")
        model = self.llm.chat_model
        started = time.perf_counter()
        try:
            result = await self.llm.chat(messages, **options)
        except LLMError:
            await self._record(self.llm, model, ok=False)
            raise
        await self._record(
            self.llm,
            model,
            ok=True,
            tokens_in=result.prompt_tokens,
            tokens_out=result.completion_tokens,
            seconds=time.perf_counter() - started,
        )
        return result

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors from the world's embedder; metered when it is the LLM provider itself
        (a model on this machine makes no LLM call and is not counted)."""
        llm = self.llm
        embedder: object = self.embedder  # the same object when the provider embeds too
        if llm is None or embedder is not llm:
            return await self.embedder.embed(texts)
        await self.check_budget()
        model = llm.embedding_model
        started = time.perf_counter()
        try:
            result = await llm.embed_counted(texts)
        except LLMError:
            await self._record(llm, model, ok=False)
            raise
        await self._record(
            llm,
            model,
            ok=True,
            tokens_in=result.tokens,
            seconds=time.perf_counter() - started,
        )
        return result.vectors

    async def _record(
        self,
        provider: LLM,
        model: str,
        ok: bool,
        tokens_in: int = 0,
        tokens_out: int = 0,
        seconds: float | None = None,
    ) -> None:
        hour = hour_of(self.clock())
        used = await self.ctx.run_mutation(
            "usage:record",
            {
                "worldId": self.world_id,
                "hour": float(hour),
                "model": model,
                "ok": ok,
                "promptTokens": float(tokens_in),
                "completionTokens": float(tokens_out),
                "latencyMs": None if seconds is None else seconds * 1000,
                "costUsd": provider.price_call(model, tokens_in, tokens_out) if ok else None,
                "local": provider.is_local,
            },
        )
        self._hour, self._used = hour, used
