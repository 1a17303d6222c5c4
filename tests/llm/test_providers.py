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

from helpers import RunningServer, free_port

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
    config = LLMConfig(
        "ollama", f"http://127.0.0.1:{free_port()}", "llama3", "m", None, "OLLAMA_HOST"
    )
    provider = open_provider(config, retry_delays=FAST)
    with pytest.raises(LLMUnavailable, match=r"cannot reach ollama at .*OLLAMA_HOST"):
        await provider.chat([{"role": "user", "content": "hi"}])
    await provider.close()


async def test_requests_in_flight_are_capped():
    fake = FakeLLM(delay=0.05)
    async with RunningServer(fake.app) as server:
        fake.url = server.url
        provider = openai(fake, concurrency=3)
        await asyncio.gather(*(provider.embed([str(i)]) for i in range(12)))
        assert fake.max_in_flight == 3
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
