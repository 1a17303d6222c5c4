"""What the tokens cost: a small price table, an override from the environment, and the sum.

AI Town's users pay about $2.30 an hour for eight characters on OpenAI and cannot see it.
Here the usage the provider counts becomes an estimate in US dollars. A local server
(Ollama, or any server on this machine or the local network) and the offline defaults cost
nothing and say so; a remote model with no known price says which prices are missing.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SETTING = "SMALLTOWN_LLM_PRICES"


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float = 0.0


#: OpenAI's list prices (standard tier, per million tokens) as published in mid-2025;
#: check them against the provider's pricing page, and override with SMALLTOWN_LLM_PRICES.
KNOWN_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "text-embedding-3-small": Price(0.02),
    "text-embedding-3-large": Price(0.13),
    "text-embedding-ada-002": Price(0.10),
}


class PriceSettingError(ValueError):
    """SMALLTOWN_LLM_PRICES is not ``{model: {"input": $/Mtok, "output": $/Mtok}}``."""


def parse_prices(raw: str) -> dict[str, Price]:
    """The known prices, with the entries of SMALLTOWN_LLM_PRICES's text (``raw``) added or
    replacing them: the settings table's parser (``smalltown.config``)."""
    raw = raw.strip()
    prices = dict(KNOWN_PRICES)
    if not raw:
        return prices
    example = '{"my-model": {"input": 0.5, "output": 1.5}} (US dollars per million tokens)'
    try:
        given = json.loads(raw)
    except ValueError as exc:
        raise PriceSettingError(f"{SETTING} is not JSON ({exc}); expected {example}") from None
    if not isinstance(given, dict):
        raise PriceSettingError(f"{SETTING} must be a JSON object like {example}")
    for model, entry in given.items():
        prices[model] = _price(model, entry, example)
    return prices


def _price(model: str, entry: Any, example: str) -> Price:
    if not isinstance(entry, dict) or not set(entry) <= {"input", "output"} or "input" not in entry:
        raise PriceSettingError(f"{SETTING}: {model!r} must look like {example}")
    values = [entry["input"], entry.get("output", 0.0)]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in values):
        raise PriceSettingError(f"{SETTING}: {model!r} prices must be numbers ≥ 0")
    return Price(float(values[0]), float(values[1]))


def is_local(base_url: str) -> bool:
    """A server on this machine or a private network: its tokens cost no money per call."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost" or host.endswith((".local", ".localhost", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


@dataclass(frozen=True)
class Cost:
    """An estimate in US dollars, and how it was made (for /health and the CLI)."""

    usd: float | None  # None: some tokens have no known price
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return {"usd": None if self.usd is None else round(self.usd, 6), "basis": self.basis}


OFFLINE = Cost(0.0, "offline: no LLM is called")


def call_cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, Price],
    local: bool = False,
) -> float | None:
    """One call's dollars: 0 on a local server, None when ``model`` has no price."""
    if local:
        return 0.0
    price = prices.get(model)
    if price is None:
        return None
    return (input_tokens * price.input + output_tokens * price.output) / 1e6


def estimate(
    chat_model: str,
    embedding_model: str,
    prompt_tokens: int,
    completion_tokens: int,
    embedding_tokens: int,
    prices: Mapping[str, Price],
    local: bool = False,
) -> Cost:
    """Dollars spent so far on a provider's tokens."""
    if local:
        return Cost(0.0, "local: the server runs on this machine or network")
    missing, usd = [], 0.0
    chat = prices.get(chat_model)
    if chat is None:
        missing.append(chat_model)
    else:
        usd += (prompt_tokens * chat.input + completion_tokens * chat.output) / 1e6
    embedding = prices.get(embedding_model)
    if embedding is None:
        missing.append(embedding_model)
    else:
        usd += embedding_tokens * embedding.input / 1e6
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        return Cost(None, f"unknown: no price for {names}; set {SETTING}")
    return Cost(usd, "estimated from list prices")
