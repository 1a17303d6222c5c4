"""``smalltown bench agents``: a town of N agents talking through an LLM that takes a fixed
time per call, with K calls allowed in flight.

The LLM is :mod:`smalltown.llm.fake_server` on loopback (real HTTP, a fixed latency, rule-
based replies of realistic length, tokens counted at about four characters each). The
world runs as the server runs it: a real store, the durable scheduler, the world runner,
the provider with its concurrency limit; game time runs faster than the wall clock so
that more operations want the LLM than it has slots. Measured after a warm-up:

- slot utilisation: time-weighted busy slots / K, only while at least K operations are
  outstanding (scheduled by a step and not yet finished);
- operations finished per wall-clock second;
- conversation turns and tokens (chat and embeddings) per agent-hour of *game* time;
- what the talk amounts to: distinct partners each agent talked with in the window (in
  conversations with at least one line that ended in it), and memories written
  (conversation memories and reflections) per agent-day of game time, extrapolated from
  the window;
- world step wall time p50/p99 while operations run (run with ``--latency 0`` to compare).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smalltown.bench.stats import percentile
from smalltown.llm import LLMConfig, open_provider
from smalltown.llm.fake_server import FakeLLM, FakeLLMServer, count_like_a_tokenizer, plan_reply
from smalltown.runtime import Registry, Runtime
from smalltown.runtime.scheduler import SchedulerWorker
from smalltown.store import open_store
from smalltown.town.defaults import many_characters, town_map
from smalltown.town.schema import schema
from smalltown.worlds.creation import create_world
from smalltown.worlds.memory_index import fit_memory_index
from smalltown.worlds.runner import WorldRunner

GENERATIVE_AGENTS_TOKENS_PER_AGENT_HOUR = 26_000
OPERATIONS = (
    "aiTown/agentOperations:generateMessage",
    "aiTown/agentOperations:rememberConversation",
    "aiTown/agentOperations:makePlan",
)
DIMS = 64
LINES = (
    "I have been meaning to ask you about the fair, are you bringing anything this year?",
    "The fog came in early today; I could barely see the end of the pier from the square.",
    "That reminds me of the storm two winters ago, when the bakery ran out of flour.",
    "Have you noticed the new shells on the doorsteps along the harbour lane lately?",
    "I should get going soon, but tell me, what is the best thing you found this week?",
)


def call_kind(body: dict[str, Any]) -> str:
    """What an LLM call was for, from its prompt: a line, a summary, a rating, a
    reflection, a day plan or its steps, or an embedding."""
    if "messages" not in body:
        return "embedding"
    asked = body["messages"][-1]["content"]
    if "Plan the rest of your day" in asked or "Break this into" in asked:
        return "plan"
    if "On a scale of 0" in asked:
        return "rating"
    if "write down what you want to remember" in asked:
        return "summary"
    if "What three things" in asked:
        return "reflection"
    return "line"


def scripted_reply(path: str, body: dict[str, Any]) -> str | None:
    """Replies shaped like a small model's: a line, a summary, a rating, three insights;
    a summary or insights asked to carry their rating (``Importance: N``) carry it."""
    kind = call_kind(body)
    if kind == "embedding":
        return None
    asked = body["messages"][-1]["content"]
    pick = int.from_bytes(hashlib.sha256(asked.encode()).digest()[:4], "big")
    rating = str(3 + pick % 5)
    rated = "Importance:" in asked  # asked to rate the answer in it, it does
    if kind == "rating":
        return rating
    if kind == "plan":
        return plan_reply(asked)
    if kind == "summary":
        summary = (
            "I talked about the fair and the fog on the harbour; they seemed worried about "
            "the bakery's flour and I promised to help look for shells."
        )
        return f"{summary}\nImportance: {rating}" if rated else summary
    if kind == "reflection":
        insights = (
            "1. Neighbours here care about the fair more than they admit (1, 2)",
            "2. The harbour fog changes everyone's plans (2)",
            "3. I enjoy being asked for help (1, 3)",
        )
        return "\n".join(f"{i} Importance: {rating}" if rated else i for i in insights)
    return LINES[pick % len(LINES)]


def purpose(body: dict[str, Any]) -> str:
    """What a call was for, finer than :func:`call_kind` (which picks the reply): lines and
    summaries of a group apart from those of two, a day's plan apart from an item's steps."""
    kind = call_kind(body)
    if kind in ("line", "summary"):
        system, asked = body["messages"][0]["content"], body["messages"][-1]["content"]
        group = (
            "several neighbours" in system
            or "What they said:" in asked
            or re.match(r"You are [^,;.]+, with ", system) is not None
        )
        return f"group {kind}" if group else kind
    if kind == "plan" and "Break this into" in body["messages"][-1]["content"]:
        return "plan steps"
    return kind


def usage_by_purpose(requests: list[tuple[str, dict[str, Any], Any]]) -> dict[str, list[int]]:
    """Tokens (in and out, as the fake LLM counts them) and calls, by what the calls were
    for (:func:`purpose`)."""
    out: dict[str, list[int]] = {}
    for path, body, _ in requests:
        kind = purpose(body)
        if kind == "embedding":
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            tokens = sum(count_like_a_tokenizer(t) for t in texts)
        else:
            reply = scripted_reply(path, body) or ""
            tokens = sum(count_like_a_tokenizer(m["content"]) for m in body["messages"])
            tokens += count_like_a_tokenizer(reply)
        used = out.setdefault(kind, [0, 0])
        used[0] += tokens
        used[1] += 1
    return out


@dataclass
class SlotMeter:
    """Integrates busy LLM slots over time, and separately over the time when at least
    ``slots`` operations were outstanding (the time the slots *should* all be busy)."""

    slots: int
    clock: Callable[[], float] = time.perf_counter
    outstanding: int = 0
    busy: int = 0
    saturated_s: float = 0.0
    busy_slot_s_saturated: float = 0.0
    elapsed_s: float = 0.0
    busy_slot_s: float = 0.0
    _since: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._since = self.clock()

    def _advance(self) -> None:
        now = self.clock()
        dt, self._since = now - self._since, now
        used = min(self.busy, self.slots) * dt
        self.elapsed_s += dt
        self.busy_slot_s += used
        if self.outstanding >= self.slots:
            self.saturated_s += dt
            self.busy_slot_s_saturated += used

    def set_busy(self, in_flight: int) -> None:
        self._advance()
        self.busy = in_flight

    def operations(self, delta: int) -> None:
        self._advance()
        self.outstanding = max(0, self.outstanding + delta)

    def reset(self) -> None:
        self._advance()
        self.saturated_s = self.busy_slot_s_saturated = self.elapsed_s = self.busy_slot_s = 0.0

    def utilisation(self) -> float | None:
        """Busy slots / K while at least K operations waited; None if that never happened."""
        self._advance()
        if self.saturated_s <= 0:
            return None
        return self.busy_slot_s_saturated / (self.saturated_s * self.slots)


@dataclass
class Counters:
    finished: int = 0
    turns: int = 0
    steps: list[float] = field(default_factory=list)


async def measure(
    agents: int = 25,
    concurrency: int = 8,
    latency: float = 1.0,
    minutes: float = 3.0,
    time_scale: float = 4.0,
    database: str | None = None,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    fake = FakeLLM(
        dims=DIMS, delay=latency, rule=scripted_reply, count_tokens=count_like_a_tokenizer
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'agents.db'}"
        async with FakeLLMServer(fake) as llm_server:
            return await _run(
                fake, llm_server.url, url, agents, concurrency, latency, minutes, time_scale, out
            )


async def _run(
    fake: FakeLLM,
    llm_url: str,
    url: str,
    agents: int,
    concurrency: int,
    latency: float,
    minutes: float,
    time_scale: float,
    out: Callable[[str], None],
) -> dict[str, Any]:
    store = await open_store(url)
    runtime = await Runtime.create(store, schema, Registry.from_package("smalltown.town"))
    config = LLMConfig("openai", f"{llm_url}/v1", "fake-chat", "fake-embed", None, "bench")
    llm = open_provider(config, concurrency=concurrency)
    runtime.extensions["llm"] = runtime.extensions["embedder"] = llm
    meter = SlotMeter(concurrency)
    counters = Counters()
    measuring = False
    fake.on_in_flight = meter.set_busy

    def on_step(world_id: str, seconds: float, result) -> None:
        meter.operations(len(result.operations))
        if measuring and meter.outstanding > 0:
            counters.steps.append(seconds * 1000)

    def on_call(kind: str, path: str, seconds: float, ok: bool) -> None:
        if kind == "action" and path in OPERATIONS:
            meter.operations(-1)
            counters.finished += measuring
        elif kind == "mutation" and path == "aiTown/agentInputs:finishMessage" and ok:
            counters.turns += measuring

    runtime.observers.append(on_call)
    worker = SchedulerWorker(runtime)
    runner = WorldRunner(runtime, step_ms=1000, time_scale=time_scale)
    runner.observers.append(on_step)
    try:
        await fit_memory_index(store, llm)
        world_id = await create_world(store, town_map(), many_characters(agents))
        await worker.start()
        await runner.start()
        warmup = 90 / time_scale  # game time for residents to finish their first activity
        out(
            f"{agents} agents, {concurrency} LLM slots, {latency:g} s a call, game time x"
            f"{time_scale:g}; warming up {warmup:.0f} s, then measuring {minutes:g} min"
        )
        await _keep_viewed(store, world_id, warmup)
        meter.reset()
        measuring = True
        tokens_before = _tokens(llm)
        seen_before = await store.read(_seen)
        first_request = len(fake.requests)
        started = time.perf_counter()
        await _keep_viewed(store, world_id, minutes * 60)
        wall = time.perf_counter() - started
        measuring = False
        seen_after = await store.read(_seen)
        by_kind = usage_by_purpose(fake.requests[first_request:])
        utilisation = meter.utilisation()
        tokens = _tokens(llm) - tokens_before
    finally:
        await runner.close()
        await worker.close()
        await llm.close()
        await store.close()
    agent_hours = agents * wall * time_scale / 3600
    agent_days = agent_hours / 24
    pairs = {
        pair
        for conversation, pair in seen_after["conversations"].items()
        if conversation not in seen_before["conversations"]
    }
    partners = {p for a, b in pairs for p in ((a, b), (b, a))}
    figures = {
        "agents": agents,
        "concurrency": concurrency,
        "latency_s": latency,
        "time_scale": time_scale,
        "wall_s": wall,
        "slot_utilisation_when_saturated": utilisation,
        "saturated_share": meter.saturated_s / max(meter.elapsed_s, 1e-9),
        "slot_utilisation_overall": meter.busy_slot_s / max(meter.elapsed_s * concurrency, 1e-9),
        "operations_per_s": counters.finished / wall,
        "llm_calls": llm.usage.requests,
        "turns_per_agent_hour": counters.turns / agent_hours,
        "tokens_per_agent_hour": tokens / agent_hours,
        "tokens_per_turn": tokens / max(counters.turns, 1),
        "tokens_per_agent_hour_by_kind": {
            k: v[0] / agent_hours for k, v in sorted(by_kind.items())
        },
        "calls_per_agent_hour_by_kind": {k: v[1] / agent_hours for k, v in sorted(by_kind.items())},
        "game_minutes": wall * time_scale / 60,
        "partners_per_agent": len(partners) / agents,
        "memories_per_agent_day": (seen_after["memories"] - seen_before["memories"]) / agent_days,
        "reflections_per_agent_day": (seen_after["reflections"] - seen_before["reflections"])
        / agent_days,
        "steps": len(counters.steps),
        "step_p50_ms": percentile(counters.steps, 50),
        "step_p99_ms": percentile(counters.steps, 99),
        "llm_failures": llm.usage.failures,
    }
    _report(figures, out)
    return figures


async def _seen(tx) -> dict[str, Any]:
    """What the town has to show for its talk so far: who has talked with whom (in a
    conversation with at least one line), and how many memories and reflections."""
    conversations = {
        c["id"]: tuple(c["participants"][:2])
        for c in await tx.query("archivedConversations")
        if c.get("numMessages", 0) > 0
    }
    memories = await tx.query("memories")
    reflections = sum(1 for m in memories if m["data"]["type"] == "reflection")
    return {
        "conversations": conversations,
        "memories": len(memories) - reflections,
        "reflections": reflections,
    }


def _tokens(llm) -> int:
    usage = llm.usage
    return usage.prompt_tokens + usage.completion_tokens + usage.embedding_tokens


async def _keep_viewed(store, world_id: str, seconds: float) -> None:
    """Wait ``seconds``, marking the world viewed now and then so the runner keeps it awake."""
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        await store.run(lambda tx: _viewed(tx, world_id))
        await asyncio.sleep(min(left, 30.0))


async def _viewed(tx, world_id: str) -> None:
    status = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
    await tx.patch(status["_id"], {"lastViewed": time.time() * 1000})


def slot_use(f: dict[str, Any], slots: int) -> str:
    """How busy the LLM slots were while operations waited, as both benches print it."""
    util = f["slot_utilisation_when_saturated"]
    util_text = "never saturated" if util is None else f"{util:.1%}"
    return (
        f"LLM slots busy while >= {slots} operations waited: {util_text} "
        f"(saturated {f['saturated_share']:.0%} of the time; {f['slot_utilisation_overall']:.0%} "
        f"busy overall)"
    )


def _report(f: dict[str, Any], out: Callable[[str], None]) -> None:
    out(slot_use(f, f["concurrency"]))
    out(
        f"operations: {f['operations_per_s']:.2f}/s finished; {f['llm_calls']} LLM calls, "
        f"{f['llm_failures']} failed"
    )
    out(
        f"per agent-hour of game time: {f['turns_per_agent_hour']:.0f} conversation turns, "
        f"{f['tokens_per_agent_hour']:,.0f} tokens (Generative Agents: "
        f"{GENERATIVE_AGENTS_TOKENS_PER_AGENT_HOUR:,}); {f['tokens_per_turn']:.0f} tokens a turn"
    )
    calls = f["calls_per_agent_hour_by_kind"]
    out(
        "  of which (calls an agent-hour): "
        + ", ".join(
            f"{k} {v:,.0f} ({calls[k]:.0f})" for k, v in f["tokens_per_agent_hour_by_kind"].items()
        )
    )
    out(
        f"distinct partners per agent in {f['game_minutes']:.0f} game minutes: "
        f"{f['partners_per_agent']:.1f}; per agent-day: {f['memories_per_agent_day']:.0f} "
        f"conversation memories, {f['reflections_per_agent_day']:.1f} reflections"
    )
    out(
        f"world step while operations run: p50 {f['step_p50_ms']:.1f} ms, p99 "
        f"{f['step_p99_ms']:.1f} ms over {f['steps']} steps"
    )


def run(**options: Any) -> dict[str, Any]:
    return asyncio.run(measure(**options))
