"""LLM providers against the scripted server on loopback."""

import asyncio

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
