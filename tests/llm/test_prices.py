"""Cost in money: list prices, the environment's override, local servers at nothing."""

import pytest

from fake_llm import FakeLLM
from smalltown.llm import LLMConfig, open_provider
from smalltown.llm.prices import (
    KNOWN_PRICES,
    Price,
    PriceSettingError,
    estimate,
    is_local,
    parse_prices,
)

from helpers import RunningServer


def test_a_known_model_is_priced_per_million_tokens():
    cost = estimate(
        "gpt-4o-mini", "text-embedding-3-small", 2_000_000, 500_000, 10_000_000, KNOWN_PRICES
    )
    assert cost.usd == pytest.approx(2 * 0.15 + 0.5 * 0.60 + 10 * 0.02)
    assert cost.basis.startswith("estimated")


def test_an_unknown_model_says_which_price_is_missing_and_how_to_give_it():
    cost = estimate("llama3", "text-embedding-3-small", 10, 10, 10, KNOWN_PRICES)
    assert cost.usd is None
    assert "no price for llama3" in cost.basis and "SMALLTOWN_LLM_PRICES" in cost.basis


def test_a_local_server_costs_nothing_and_says_so():
    cost = estimate("llama3", "mxbai-embed-large", 10**9, 10**9, 10**9, {}, local=True)
    assert cost.usd == 0.0 and cost.basis.startswith("local")
    for url in (
        "http://127.0.0.1:11434",
        "http://localhost:8080/v1",
        "http://10.0.0.5/v1",
        "http://192.168.1.20:1234/v1",
        "http://gpu-box.local:8000/v1",
    ):
        assert is_local(url), url
    for url in ("https://api.openai.com/v1", "https://api.together.xyz/v1", "http://8.8.8.8/v1"):
        assert not is_local(url), url


def test_the_environment_adds_and_replaces_prices():
    prices = parse_prices('{"gpt-4o": {"input": 1, "output": 2}, "mine": {"input": 0.5}}')
    assert prices["gpt-4o"] == Price(1.0, 2.0) and prices["mine"] == Price(0.5, 0.0)
    assert prices["gpt-4o-mini"] == KNOWN_PRICES["gpt-4o-mini"]
    assert parse_prices(" ") == KNOWN_PRICES


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"m": 3}', "'m' must look like"),
        ('{"m": {"output": 1}}', "'m' must look like"),
        ('{"m": {"input": 1, "cached": 1}}', "'m' must look like"),
        ('{"m": {"input": -1}}', "numbers ≥ 0"),
        ('{"m": {"input": "cheap"}}', "numbers ≥ 0"),
    ],
)
def test_a_bad_price_setting_is_a_clear_error(raw, message):
    with pytest.raises(PriceSettingError, match=message):
        parse_prices(raw)


def test_the_cli_refuses_a_bad_price_setting_before_starting(monkeypatch, capsys):
    from smalltown.cli import main

    monkeypatch.setenv("SMALLTOWN_LLM_PRICES", '{"m": {"input": "free"}}')
    assert main(["worlds", "list"]) == 2
    assert "SMALLTOWN_LLM_PRICES: 'm' prices must be numbers" in capsys.readouterr().err


async def test_a_provider_prices_what_it_counted():
    fake = FakeLLM()
    async with RunningServer(fake.app) as server:
        config = LLMConfig(
            "openai",
            f"{server.url}/v1",
            "gpt-4o-mini",
            "text-embedding-3-small",
            None,
            "LLM_API_URL",
        )
        remote = open_provider(config, retry_delays=(0.01,))
        remote.local = False  # priced as the provider it stands for
        fake.replies.append("one two three")
        await remote.chat([{"role": "user", "content": "a b c d"}])
        await remote.embed(["five words in this text", "and three more"])
        usage = remote.usage
        assert (usage.prompt_tokens, usage.completion_tokens, usage.embedding_tokens) == (4, 3, 8)
        assert remote.cost().usd == pytest.approx((4 * 0.15 + 3 * 0.60 + 8 * 0.02) / 1e6)
        # One call at a time, as each world's usage is priced.
        assert remote.price_call("gpt-4o-mini", 4, 3) == pytest.approx((4 * 0.15 + 3 * 0.6) / 1e6)
        assert remote.price_call("text-embedding-3-small", 8) == pytest.approx(8 * 0.02 / 1e6)
        assert remote.price_call("llama3", 4, 3) is None
        here = open_provider(config)  # the same models on loopback: somebody's own server
        assert here.price_call("llama3", 4, 3) == 0.0
        assert here.cost().as_dict() == {
            "usd": 0.0,
            "basis": "local: the server runs on this machine or network",
        }
        await here.close()
        await remote.close()
