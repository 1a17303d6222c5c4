"""LLM providers against the scripted server on loopback."""

import asyncio
import random

import pytest

from fake_llm import DIMS, FakeLLM, fake_embedding
from smalltown.llm import (
    LLMAuthError,
    LLMConfig,
    LLMRateLimited,
    LLMResponseError,
    LLMUnavailable,
    config_from_env,
    open_provider,
)
from smalltown.llm.http_provider import Backoff

from helpers import RunningServer, refusing_url

FAST = (0.01, 0.02, 0.04)


@pytest.fixture
async def fake():
    llm = FakeLLM()
    async with RunningServer(llm.app) as server:
        llm.url = server.url
        yield llm


def openai(fake, **kwargs):
    config = LLMConfig("openai", f"{fake.url}/v1", "chatty", "embedder", "sk-test", "LLM_API_URL")
    return open_provider(config, retry_delays=FAST, **kwargs)


def ollama(fake):
    config = LLMConfig("ollama", fake.url, "llama3", "mxbai-embed-large", None, "OLLAMA_HOST")
    return open_provider(config, retry_delays=FAST)


async def test_openai_chat_and_embeddings(fake):
    provider = openai(fake)
    fake.replies.append("Hello there, neighbour.")
    result = await provider.chat([{"role": "user", "content": "hi you"}], max_tokens=50)
    assert result.text == "Hello there, neighbour." and result.prompt_tokens == 2
    path, body, headers = fake.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "chatty"
    assert body["max_tokens"] == 50 and headers["authorization"] == "Bearer sk-test"
    vectors = await provider.embed(["a", "b", "c"])
    assert vectors == [fake_embedding(t) for t in "abc"] and len(vectors[0]) == DIMS
    assert provider.usage.completion_tokens == 3  # the fake counts words
    await provider.close()


async def test_ollama_native_chat_and_embeddings(fake):
    provider = ollama(fake)
    fake.replies.append("Morning!")
    assert (await provider.chat([{"role": "user", "content": "hi"}])).text == "Morning!"
    assert fake.requests[-1][0] == "/api/chat" and fake.requests[-1][1]["stream"] is False
    assert await provider.embed(["x"]) == [fake_embedding("x")]
    await provider.close()


async def test_429_and_5xx_are_retried_then_succeed(fake):
    provider = openai(fake)
    fake.fail(429)
    fake.fail(503)
    assert (await provider.chat([{"role": "user", "content": "hi"}])).text
    assert len(fake.requests) == 3
    await provider.close()


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (429, LLMRateLimited, "rate limiting"),
        (500, LLMUnavailable, "HTTP 500"),
        (401, LLMAuthError, "refused the key"),
        (404, LLMResponseError, "model name"),
    ],
)
async def test_failures_become_clear_errors(fake, status, error, message):
    provider = openai(fake)
    fake.fail(status, times=10)
    with pytest.raises(error, match=message):
        await provider.chat([{"role": "user", "content": "hi"}])
    retried = status in (429, 500)
    assert len(fake.requests) == (4 if retried else 1)
    assert provider.usage.failures == 1 and provider.usage.last_error
    await provider.close()


async def test_an_unreachable_server_names_the_setting_that_fixes_it():
    with refusing_url() as url:
        config = LLMConfig("ollama", url, "llama3", "m", None, "OLLAMA_HOST")
        provider = open_provider(config, retry_delays=FAST)
        with pytest.raises(LLMUnavailable, match=r"cannot reach ollama at .*OLLAMA_HOST"):
            await provider.chat([{"role": "user", "content": "hi"}])
        await provider.close()


async def test_requests_in_flight_are_capped():
    fake = FakeLLM(delay=0.05)  # (a while inside, so more than three would meet there)
    inside, most = 0, 0
    three_in = asyncio.Event()

    async def gated(scope, receive, send):
        """The fake, holding each request until three are in at once: how fast they come
        does not decide whether they meet."""
        nonlocal inside, most
        if scope["type"] != "http":
            return await fake.app(scope, receive, send)
        inside += 1
        most = max(most, inside)
        if inside == 3:
            three_in.set()
        try:
            await asyncio.wait_for(three_in.wait(), 10)
            await fake.app(scope, receive, send)
        finally:
            inside -= 1

    async with RunningServer(gated) as server:
        fake.url = server.url
        provider = openai(fake, concurrency=3)
        await asyncio.gather(*(provider.embed([str(i)]) for i in range(12)))
        assert most == 3 and fake.max_in_flight <= 3
        await provider.close()


async def test_malformed_replies_are_response_errors(fake):
    provider = openai(fake)
    fake.dims = 0  # empty vectors are not embeddings
    with pytest.raises(LLMResponseError, match="embeddings"):
        await provider.embed(["a"])
    await provider.close()


def test_configuration_follows_ai_towns_variables():
    assert config_from_env({}) is None
    assert config_from_env({"OPENAI_API_KEY": "k"}).source == "OPENAI_API_KEY"
    both = config_from_env({"OPENAI_API_KEY": "k", "LLM_API_URL": "http://x/v1"})
    assert both.source == "OPENAI_API_KEY"
    custom = config_from_env(
        {
            "LLM_API_URL": "http://x:1/v1/",
            "LLM_MODEL": "m",
            "LLM_EMBEDDING_MODEL": "e",
            "LLM_API_KEY": "s",
        }
    )
    assert (custom.base_url, custom.chat_model, custom.embedding_model, custom.api_key) == (
        "http://x:1/v1",
        "m",
        "e",
        "s",
    )
    local = config_from_env({"OLLAMA_HOST": "127.0.0.1:11434", "OLLAMA_MODEL": "qwen"})
    assert (local.kind, local.base_url, local.chat_model) == (
        "ollama",
        "http://127.0.0.1:11434",
        "qwen",
    )
    together = config_from_env({"TOGETHER_API_KEY": "t"})
    assert together.kind == "openai" and together.api_key == "t"


async def test_embeddings_report_the_tokens_the_server_counted(fake):
    provider = openai(fake)
    counted = await provider.embed_counted(["three words here", "two more"])
    assert counted.tokens == 5 and len(counted.vectors) == 2
    assert (await provider.embed_counted([])).tokens == 0
    await provider.close()


async def test_a_request_held_past_the_timeout_is_retried_then_reported(fake):
    provider = openai(fake, timeout=0.3)
    fake.fail("timeout", times=10)
    try:
        with pytest.raises(LLMUnavailable, match="did not answer in time"):
            await provider.chat([{"role": "user", "content": "hi"}])
        assert len(fake.requests) == 4  # the first try and three retries
        assert provider.usage.failures == 1
    finally:
        fake.release()
        await provider.close()


async def test_one_timeout_then_an_answer_is_a_success(fake):
    provider = openai(fake, timeout=0.3)
    fake.fail("timeout")
    try:
        assert (await provider.chat([{"role": "user", "content": "hi"}])).text == (
            fake.default_reply
        )
        assert len(fake.requests) == 2 and provider.usage.failures == 0
    finally:
        fake.release()
        await provider.close()


@pytest.mark.parametrize("make", [openai, ollama])
async def test_a_body_that_is_not_json_is_a_response_error_at_once(fake, make):
    provider = make(fake)
    fake.fail("malformed")
    with pytest.raises(LLMResponseError, match="not JSON"):
        await provider.chat([{"role": "user", "content": "hi"}])
    assert len(fake.requests) == 1  # a broken body is not retried
    await provider.close()


async def test_empty_text_comes_back_empty_and_empty_vectors_are_refused(fake):
    provider = openai(fake)
    fake.fail("empty", times=2)
    assert (await provider.chat([{"role": "user", "content": "hi"}])).text == ""
    with pytest.raises(LLMResponseError, match="expected 1 embeddings"):
        await provider.embed(["a"])
    await provider.close()


def test_unknown_faults_are_refused():
    with pytest.raises(ValueError, match="fault must be"):
        FakeLLM().fail("sometimes")


def test_the_concurrency_setting_is_checked():
    from smalltown.llm.config import parse_concurrency

    assert parse_concurrency(" ") == 8
    assert parse_concurrency("3") == 3
    for bad in ("0", "-2", "many"):
        with pytest.raises(ValueError, match="SMALLTOWN_LLM_CONCURRENCY"):
            parse_concurrency(bad)


async def test_an_outage_backs_off_instead_of_hammering_the_server(fake):
    now = [0.0]
    backoff = Backoff(base=1.0, cap=8.0, clock=lambda: now[0], rng=random.Random(7))
    provider = openai(fake)
    provider.backoff = backoff
    hi = [{"role": "user", "content": "hi"}]
    fake.fail(503, times=1_000)

    async def calls(n):
        """``n`` calls in a row, as agents' operations make them: the server's requests."""
        before = len(fake.requests)
        for _ in range(n):
            with pytest.raises(LLMUnavailable):
                await provider.chat(hi)
        return len(fake.requests) - before

    # One failed call may be bad luck: the next tries too (each with its retries).
    assert await calls(1) == 1 + len(FAST)
    assert provider.outage["failuresInARow"] == 1
    assert provider.outage["retryInSeconds"] == 0
    # From the second in a row, the provider backs off: the next fifty do not ask.
    assert await calls(51) == 1 + len(FAST)
    assert provider.outage["failuresInARow"] == 2
    assert "HTTP 503" in provider.outage["lastError"]
    waits = [provider.outage["retryInSeconds"]]
    for failures in (3, 4, 5, 6, 7):  # each wait up: one call tries, the wait doubles
        now[0] += waits[-1]
        assert await calls(20) == 1 + len(FAST)
        assert provider.outage["failuresInARow"] == failures
        waits.append(provider.outage["retryInSeconds"])
    for n, wait in enumerate(waits):  # jittered: between half and all of base * 2^n, capped
        assert min(8.0, 2**n) / 2 <= wait <= min(8.0, 2**n)
    assert len(set(waits)) == len(waits)

    fake.fail_next.clear()  # the server recovers; the first call after the wait succeeds
    now[0] += waits[-1]
    assert (await provider.chat(hi)).text
    assert provider.outage is None and provider.usage.last_error is None
    assert (await provider.chat(hi)).text  # and the next goes straight through
    await provider.close()


async def test_one_call_tries_a_failing_server_while_the_others_fail_at_once(fake):
    now = [0.0]
    provider = openai(fake)
    provider.backoff = Backoff(base=1.0, clock=lambda: now[0])
    hi = [{"role": "user", "content": "hi"}]
    fake.fail(503, times=2 * (len(FAST) + 1))
    for _ in range(2):
        with pytest.raises(LLMUnavailable):
            await provider.chat(hi)
    now[0] += 1.0
    fake.delay = 0.05  # the trying call is under way while the others arrive
    results = await asyncio.gather(*(provider.chat(hi) for _ in range(5)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, LLMUnavailable) for r in results if isinstance(r, Exception))
    assert provider.outage is None
    await provider.close()
