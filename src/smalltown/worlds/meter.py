"""One operation's LLM calls for one world: checked against the world's budget before each
call, recorded in the store (``usage:record``) after it.

The world's tokens this hour are read once per operation, and its own calls added to them,
so a call costs no extra read. Calls in flight in other operations may carry a world a
little past its budget; none starts after the operation has seen it spent. A process's
calls are recorded together (:class:`UsageLog`): those that end while a record is being
written go into the next one, in the process's own rows.
A meter is what agents' work talks through (``agents/town_access.py: MeteredLLM``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from smalltown.llm import LLM, ChatResult, Embedder, LLMError, LLMUnavailable
from smalltown.llm.budget import check, hour_of


class UsageLog:
    """This process's LLM calls on their way to the store, written in batches: a caller
    that finds a record being written waits for it, then writes every call that came
    meanwhile in one ``usage:record``, its own among them (or finds that another waiter
    wrote it). No task of its own runs, and a call is stored before its caller goes on."""

    def __init__(self) -> None:
        #: the rows this process writes are its own (``worlds/usage.py: record_calls``)
        self.writer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = asyncio.Lock()
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.records = 0  # ``usage:record`` mutations written

    async def record(self, ctx, call: dict[str, Any]) -> None:
        """Store ``call`` (``usage:record``'s fields of one call) with any others waiting."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((call, done))
        async with self._lock:
            if done.done():
                return done.result()
            batch, self._waiting = self._waiting, []
            try:
                await ctx.run_mutation(
                    "usage:record", {"writer": self.writer, "calls": [c for c, _ in batch]}
                )
            except BaseException:
                # The others try again themselves, each as it gets the lock.
                self._waiting = [entry for entry in batch if entry[1] is not done] + self._waiting
                raise
            self.records += 1
            for _, waiter in batch:
                waiter.set_result(None)


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
        call = {
            "worldId": self.world_id,
            "hour": float(hour),
            "model": model,
            "ok": ok,
            "promptTokens": float(tokens_in),
            "completionTokens": float(tokens_out),
            "latencyMs": None if seconds is None else seconds * 1000,
            "costUsd": provider.price_call(model, tokens_in, tokens_out) if ok else None,
            "local": provider.is_local,
        }
        log = self.ctx.extensions.get("usage_log")
        if log is None:  # (a runtime the town's service did not set up)
            log = self.ctx.extensions.setdefault("usage_log", UsageLog())
        await log.record(self.ctx, call)
        if hour != self._hour:  # (the hour turned since it was read: a fresh one)
            self._hour, self._used = hour, 0.0
        self._used += tokens_in + tokens_out
