"""Each world's LLM usage in the store, and its hourly budget, against the fake LLM server:
counted per world with the server's own token counts, priced or not, kept across reopening
the store, summed into p50/p99 from buckets, and a spent budget pausing one world's calls
while another keeps talking."""

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from fake_llm import FakeLLM
from smalltown.llm import LLMBudgetExceeded, LLMConfig, LLMError, open_provider
from smalltown.llm.budget import BudgetSettingError, check, hour_of, parse_tokens_per_hour
from smalltown.runtime import ANONYMOUS, Registry, Runtime
from smalltown.runtime.context import ActionCtx, AuthContext, Scheduler
from smalltown.server import create_app
from smalltown.store import open_store
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.schema import open_town_store, schema
from smalltown.worlds.admin import create, llm_usage
from smalltown.worlds.creation import create_world
from smalltown.worlds.meter import Meter, UsageLog
from smalltown.worlds.usage import (
    LATENCY_BUCKETS_MS,
    TABLE,
    Tally,
    bucket_of,
    quantile,
    world_usage,
)

from helpers import RunningServer, call_api_async, eventually

BUDGET = "SMALLTOWN_LLM_TOKENS_PER_HOUR"


# --- the arithmetic ----------------------------------------------------------------------


def counts(**by_bound: int) -> list[float]:
    """Bucket counts from ``{"b50": n, ...}`` (bound in ms) or ``slow`` for the last."""
    out = [0.0] * (len(LATENCY_BUCKETS_MS) + 1)
    for key, n in by_bound.items():
        out[-1 if key == "slow" else LATENCY_BUCKETS_MS.index(float(key[1:]))] = n
    return out


def test_latencies_fall_in_their_buckets():
    assert bucket_of(0) == 0 and bucket_of(50) == 0 and bucket_of(50.1) == 1
    assert bucket_of(7_400) == LATENCY_BUCKETS_MS.index(7_500)
    assert bucket_of(61_000) == len(LATENCY_BUCKETS_MS)


def test_p50_and_p99_come_from_bucket_counts():
    # 98 fast calls (0-50 ms) and 2 slow ones (5-7.5 s).
    latency = counts(b50=98, b7500=2)
    assert quantile(latency, 0.5) == pytest.approx(50 * 50 / 98)
    assert quantile(latency, 0.99) == pytest.approx(5000 + 2500 * (99 - 98) / 2)
    assert quantile(counts(b1000=4), 0.5) == pytest.approx(875)  # inside 750-1000 ms
    assert quantile(counts(slow=3), 0.99) == LATENCY_BUCKETS_MS[-1]  # at least the last bound
    assert quantile(counts(), 0.5) is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        quantile(latency, 99)


def test_the_cost_of_a_window_is_null_with_the_reason_when_a_model_has_no_price():
    row = {
        "calls": 2.0,
        "failures": 0.0,
        "promptTokens": 10.0,
        "completionTokens": 5.0,
        "costUsd": 0.25,
        "unpriced": [],
        "local": False,
        "latencyMs": counts(b100=2),
    }
    priced = Tally()
    priced.add(row)
    assert priced.cost().usd == 0.25 and priced.cost().basis.startswith("estimated")
    priced.add({**row, "costUsd": 0.0, "unpriced": ["llama3"]})
    cost = priced.cost()
    assert cost.usd is None
    assert "no price for llama3" in cost.basis and "SMALLTOWN_LLM_PRICES" in cost.basis
    here = Tally()
    here.add({**row, "costUsd": 0.0, "local": True})
    assert here.cost().usd == 0.0 and here.cost().basis.startswith("local")


def test_the_budget_setting_is_checked_and_its_message_says_when_and_how():
    assert parse_tokens_per_hour(" ") is None
    assert parse_tokens_per_hour("20_000") == 20_000
    for bad in ("lots", "0", "-5", "1.5"):
        with pytest.raises(BudgetSettingError, match=BUDGET):
            parse_tokens_per_hour(bad)
    check(100, 99, 0)  # not spent yet: nothing happens
    now = 10 * 3600 + 45 * 60 + 30  # 10:45:30 UTC
    with pytest.raises(LLMBudgetExceeded) as raised:
        check(100, 100, now)
    message = str(raised.value)
    assert "100 tokens an hour is spent" in message and "until 11:00 UTC" in message
    assert "in 15 min" in message and BUDGET in message
    assert raised.value.resets_at == 11 * 3600 and raised.value.tokens_per_hour == 100


# --- recorded through the meter, on every store provider ----------------------------------


class Harness:
    """The town's runtime on a store, the fake LLM, and an action context to meter from;
    each world's budget where the worlds service puts it."""

    async def open(self, url: str, llm_url: str, chat_model: str, clock=None, tokens_per_hour=None):
        self.url = url
        self.store = await open_store(url)
        self.runtime = await Runtime.create(
            self.store, schema, Registry.from_package("smalltown.town")
        )
        config = LLMConfig(
            "openai", f"{llm_url}/v1", chat_model, "text-embedding-3-small", None, "LLM_API_URL"
        )
        self.llm = open_provider(config, retry_delays=(0.01,))
        self.llm.local = False  # priced as the remote provider it stands for
        self.runtime.extensions.update(
            llm=self.llm, embedder=self.llm, llm_tokens_per_hour=tokens_per_hour
        )
        if clock is not None:
            self.runtime.extensions["clock"] = clock
        self.ctx = ActionCtx(
            AuthContext(ANONYMOUS, self.runtime.auth), Scheduler(self.runtime, None), self.runtime
        )
        return self

    def meter(self, world_id: str) -> Meter:
        return Meter(self.ctx, world_id)

    async def rows(self):
        return await self.store.read(lambda tx: tx.query(TABLE))

    async def close(self):
        await self.llm.close()
        await self.store.close()


def words(messages):
    return sum(len(m["content"].split()) for m in messages)


@pytest.mark.timeout(120)
async def test_calls_are_counted_per_world_priced_and_kept_across_reopening(store_url):
    fake = FakeLLM()
    now = time.time()
    async with RunningServer(fake.app) as server:
        town = await Harness().open(store_url, server.url, "gpt-4o-mini", clock=lambda: now)
        try:
            first = await create(town.store, town_map(), [])
            second = await create(town.store, town_map(), [])
            ask = [{"role": "user", "content": "how is the bakery today"}]  # 5 words in
            fake.replies.extend(["warm and busy", "sold out of rye"])  # 3 and 4 words out
            meter = town.meter(first)
            await meter.chat(ask)
            await meter.chat(ask)
            (vector,) = await meter.embed(["a memory of rye bread"])
            assert len(vector) == fake.dims
            fake.fail(500, times=2)  # both attempts fail: a failed call, no tokens
            with pytest.raises(LLMError):
                await town.meter(second).chat(ask)
            fake.default_reply = "fine"
            await town.meter(second).chat(ask)

            (a,) = [r for r in await town.rows() if r["worldId"] == first]
            (b,) = [r for r in await town.rows() if r["worldId"] == second]
            assert a["hour"] == b["hour"] == hour_of(now)
            assert (a["calls"], a["failures"]) == (3, 0)
            # Tokens as the server counted them: 5 + 5 prompt, 3 + 4 completion, 5 embedded.
            assert (a["promptTokens"], a["completionTokens"]) == (15, 7)
            assert sum(a["latencyMs"]) == 3  # every answered call has its latency bucket
            assert a["costUsd"] == pytest.approx((10 * 0.15 + 7 * 0.60 + 5 * 0.02) / 1e6)
            assert (b["calls"], b["failures"], b["promptTokens"], b["completionTokens"]) == (
                2,
                1,
                5,
                1,
            )
            assert sum(b["latencyMs"]) == 1  # the failed call has none
        finally:
            await town.close()

        # Reopened (a restart, or another process): the same figures, summed for the query.
        store = await open_town_store(store_url)
        try:
            usage = await store.read(lambda tx: world_usage(tx, first, now, None))
            for window in ("hour", "day"):
                part = usage[window]
                assert (part["calls"], part["tokensIn"], part["tokensOut"]) == (3, 15, 7)
                assert part["cost"]["usd"] == pytest.approx(5.8e-6, abs=1e-6)  # to the µ$
                assert part["latencyMs"]["p50"] is not None
                assert part["latencyMs"]["p50"] <= part["latencyMs"]["p99"]
            assert usage["budget"] == {
                "tokensPerHour": None,
                "used": 22,
                "left": None,
                "resetsAt": (hour_of(now) + 1) * 3600 * 1000.0,
            }
            later = await store.read(lambda tx: world_usage(tx, first, now + 3600, 50))
            assert later["hour"]["calls"] == 0 and later["day"]["calls"] == 3
            assert later["budget"]["left"] == 50  # a new hour, a full budget
            gone = await store.read(lambda tx: world_usage(tx, first, now + 24 * 3600, None))
            assert gone["day"]["calls"] == 0  # older than 24 hours
        finally:
            await store.close()


@pytest.mark.timeout(120)
async def test_calls_that_end_together_are_written_together_in_each_process_own_rows(store_url):
    """Forty calls ending at once in one process take two writes, not forty, and all
    count; another process counts into rows of its own, and the hour sums them all."""
    now = time.time()
    hour = float(hour_of(now))
    town = await Harness().open(store_url, "http://127.0.0.1:9", "gpt-4o-mini")
    try:
        world = await create(town.store, town_map(), [])

        def call(tokens: float) -> dict:
            return {"worldId": world, "hour": hour, "model": "gpt-4o-mini", "ok": True,
                    "promptTokens": tokens, "completionTokens": 1.0, "latencyMs": 900.0,
                    "costUsd": 0.0}  # fmt: skip

        here, there = UsageLog(), UsageLog()
        await asyncio.gather(*(here.record(town.ctx, call(10.0)) for _ in range(40)))
        assert here.records == 2  # the first alone, then the 39 that came while it wrote
        for _ in range(3):
            await there.record(town.ctx, call(100.0))
        assert there.records == 3

        rows = {r["writer"]: r for r in await town.rows()}
        assert set(rows) == {here.writer, there.writer}
        assert (rows[here.writer]["calls"], rows[here.writer]["promptTokens"]) == (40, 400)
        assert (rows[there.writer]["calls"], rows[there.writer]["promptTokens"]) == (3, 300)
        tokens = await town.runtime.query(
            "usage:tokensThisHour", {"worldId": world, "hour": hour}, ANONYMOUS, internal=True
        )
        assert tokens.value == 400 + 40 + 300 + 3
        usage = await town.store.read(lambda tx: world_usage(tx, world, now, 1000))
        assert usage["hour"]["calls"] == 43 and usage["budget"]["left"] == 1000 - 743
    finally:
        await town.close()


@pytest.mark.timeout(120)
async def test_an_unpriced_model_has_no_cost_and_says_which_price_is_missing(store_url):
    fake = FakeLLM()
    now = time.time()
    async with RunningServer(fake.app) as server:
        town = await Harness().open(store_url, server.url, "house-llama", clock=lambda: now)
        try:
            world = await create(town.store, town_map(), [])
            await town.meter(world).chat([{"role": "user", "content": "hello"}])
            usage = await town.store.read(lambda tx: world_usage(tx, world, now, None))
            assert usage["hour"]["calls"] == 1
            cost = usage["hour"]["cost"]
            assert cost["usd"] is None
            assert "house-llama" in cost["basis"] and "SMALLTOWN_LLM_PRICES" in cost["basis"]
        finally:
            await town.close()


@pytest.mark.timeout(120)
async def test_a_spent_budget_stops_one_worlds_calls_before_they_are_made(store_url):
    fake = FakeLLM()
    now = [time.time()]
    async with RunningServer(fake.app) as server:
        town = await Harness().open(
            store_url, server.url, "gpt-4o-mini", clock=lambda: now[0], tokens_per_hour=20
        )
        try:
            spender, other = (
                await create(town.store, town_map(), []),
                await create(town.store, town_map(), []),
            )
            ask = [{"role": "user", "content": "one two three four five six seven"}]
            fake.default_reply = "eight nine ten"  # 10 tokens a call
            await town.meter(spender).chat(ask)
            meter = town.meter(spender)  # a new operation reads the hour's count
            await meter.chat(ask)  # 20: spent
            with pytest.raises(LLMBudgetExceeded, match=BUDGET):
                await meter.chat(ask)
            with pytest.raises(LLMBudgetExceeded):
                await town.meter(spender).embed(["not even embeddings"])
            assert len(fake.requests) == 2  # the refused calls never reached the server
            await town.meter(other).chat(ask)  # the other world has its own budget
            assert len(fake.requests) == 3
            now[0] += 3600  # the next hour refills it
            await town.meter(spender).chat(ask)
            assert len(fake.requests) == 4
        finally:
            await town.close()


# --- the town on a real server: one world paused, the other talking -------------------------


@pytest.mark.timeout(300)
async def test_a_world_whose_budget_is_spent_pauses_while_another_keeps_talking(
    store_url, monkeypatch
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "20")
    monkeypatch.setenv(BUDGET, "100000")
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "OLLAMA_HOST", "SMALLTOWN_EMBEDDINGS"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm_server:
        monkeypatch.setenv("LLM_API_URL", f"{llm_server.url}/v1")
        monkeypatch.setenv("LLM_MODEL", "gpt-4o-mini")
        monkeypatch.setenv("LLM_EMBEDDING_MODEL", "text-embedding-3-small")
        app = create_app(store_url, "smalltown.town")
        async with (
            RunningServer(app) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):
            now = time.time()
            app.state.runtime.extensions["clock"] = lambda: now  # no hour turns mid-test
            talking = (await call_api_async(client, "query", "world:defaultWorldStatus", {}))[
                "worldId"
            ]
            # The paused world's residents have names of their own, to tell its prompts apart.
            residents = [{**c, "name": f"{c['name']} Junior"} for c in CHARACTERS]
            paused = await create_world(app.state.store, town_map(), residents, default=False)
            # The paused world has spent its hour already (as if it had talked all along).
            await app.state.runtime.mutation(
                "usage:record",
                {
                    "writer": "another process",
                    "calls": [
                        {
                            "worldId": paused,
                            "hour": float(hour_of(now)),
                            "model": "gpt-4o-mini",
                            "ok": True,
                            "promptTokens": 100_000.0,
                            "latencyMs": 800.0,
                            "costUsd": 0.015,
                        }
                    ],
                },
                internal=True,
            )
            fake.default_reply = "Good to see you."

            async def both_tried():
                worlds = {
                    w["worldId"]: w
                    for w in await call_api_async(client, "query", "world:listWorlds", {})
                }
                usage = await call_api_async(
                    client, "query", "world:llmUsage", {"worldId": talking}
                )
                return usage["hour"]["calls"] >= 3 and worlds[paused].get("smalltownLlmBudget")

            await eventually(both_tried, timeout=240)
            worlds = {
                w["worldId"]: w
                for w in await call_api_async(client, "query", "world:listWorlds", {})
            }
            budget = worlds[paused]["smalltownLlmBudget"]
            assert budget["setting"] == BUDGET and budget["tokensPerHour"] == 100_000
            assert budget["resetsAt"] == (hour_of(now) + 1) * 3600 * 1000
            error = worlds[paused]["smalltownLlmError"]
            assert "budget of 100,000 tokens an hour is spent" in error and BUDGET in error
            assert "smalltownLlmBudget" not in worlds[talking]

            paused_usage = await call_api_async(
                client, "query", "world:llmUsage", {"worldId": paused}
            )
            talking_usage = await call_api_async(
                client, "query", "world:llmUsage", {"worldId": talking}
            )
            assert paused_usage["hour"]["calls"] == 1  # only the spending we recorded
            assert paused_usage["budget"]["left"] == 0
            # The LLM server never saw a prompt from the paused world.
            seen = [json.dumps(body) for _, body, _ in fake.requests]
            assert len(seen) >= 3 and not any("Junior" in body for body in seen)
            assert any(c["name"] in body for body in seen for c in CHARACTERS)  # the other's
            assert talking_usage["hour"]["tokensIn"] > 0 and talking_usage["hour"]["tokensOut"] > 0
            # A server on loopback is somebody's own: it costs nothing, and says so.
            assert talking_usage["hour"]["cost"]["usd"] == 0.0
            assert talking_usage["hour"]["cost"]["basis"].startswith("local")
            assert talking_usage["budget"]["left"] < 100_000

            metrics = (await client.get("/metrics")).text
            assert f'smalltown_world_llm_budget_left_tokens{{world="{paused}"}} 0.0' in metrics
            assert f'smalltown_world_llm_calls{{window="hour",world="{paused}"}} 1.0' in metrics
            assert f'smalltown_world_llm_latency_p50_ms{{window="24h",world="{paused}"}}' in metrics
            assert f'smalltown_world_llm_calls{{window="24h",world="{talking}"}}' in metrics

    # The CLI reads the same rows from the database, with the server gone.
    if store_url.startswith("sqlite"):
        result = subprocess.run(
            [sys.executable, "-m", "smalltown.cli", "usage", "--database", store_url],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, BUDGET: "100000"},
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        row = next(line for line in lines if line.startswith(paused))
        assert row.split()[1:5] == ["hour", "1", "0", "100,000"]
        assert "budget 100,000 tokens an hour: 0 left, paused until" in result.stdout
        assert any(line.startswith(talking) for line in lines)


async def test_usage_of_every_world_for_the_cli(tmp_path):
    store = await open_town_store(f"sqlite:///{tmp_path}/cli.db")
    try:
        world = await create(store, town_map(), [])
        (usage,) = await llm_usage(store, tokens_per_hour=500)
        assert usage["worldId"] == world and usage["hour"]["calls"] == 0
        assert usage["budget"]["left"] == 500 and usage["hour"]["cost"]["usd"] == 0.0
    finally:
        await store.close()
