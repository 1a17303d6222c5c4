"""Which LLM to use, from the environment with AI Town's variable names, and how to open it.

An AI Town ``.env`` works unchanged. The settings (``smalltown.config``) read the
environment once with :func:`config_from_env`; the first of :data:`SOURCES` whose variable
is set wins:

1. ``OPENAI_API_KEY`` → OpenAI (``OPENAI_CHAT_MODEL``, ``OPENAI_EMBEDDING_MODEL``)
2. ``TOGETHER_API_KEY`` → Together's OpenAI-compatible API
3. ``LLM_API_URL`` → any OpenAI-compatible server (``LLM_MODEL``, ``LLM_EMBEDDING_MODEL``,
   ``LLM_API_KEY``): vLLM, llama.cpp's server, LM Studio, Ollama's ``/v1``
4. ``OLLAMA_HOST`` → Ollama's native API (``OLLAMA_MODEL``, ``OLLAMA_EMBEDDING_MODEL``)
5. nothing set → ``None``: the caller uses the offline brain (``offline.py``).

:data:`PROVIDERS` says which class speaks each API; :func:`open_provider` opens one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from smalltown.llm.http_provider import (
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    RETRY_DELAYS,
    HTTPProvider,
    Kind,
    LLMConfig,
)
from smalltown.llm.ollama import Ollama
from smalltown.llm.openai_compatible import OpenAICompatible
from smalltown.llm.prices import KNOWN_PRICES, Price

OPENAI_URL = "https://api.openai.com/v1"
TOGETHER_URL = "https://api.together.xyz/v1"
CONCURRENCY_SETTING = "SMALLTOWN_LLM_CONCURRENCY"
NO_LLM = (
    "no LLM is configured: set OPENAI_API_KEY, LLM_API_URL (any OpenAI-compatible server) "
    "or OLLAMA_HOST, and restart"
)


@dataclass(frozen=True)
class Source:
    """One way the environment chooses an LLM: chosen when ``setting`` is set."""

    setting: str
    kind: Kind
    chat: tuple[str, str]  # (the chat model's variable, its default)
    embedding: tuple[str, str]  # (the embedding model's variable, its default)
    #: the server's address; None: the setting's value is the address
    url: str | None = None
    #: the variable holding the API key (None: no key)
    key: str | None = None
    #: put in front of an address given without one (Ollama's own OLLAMA_HOST=host:port)
    scheme: str | None = None

    def config(self, env: Mapping[str, str]) -> LLMConfig:
        address = self.url or env[self.setting]
        if self.scheme and "://" not in address:
            address = f"{self.scheme}://{address}"
        return LLMConfig(
            self.kind,
            address.rstrip("/"),
            env.get(self.chat[0]) or self.chat[1],
            env.get(self.embedding[0]) or self.embedding[1],
            (env.get(self.key) or None) if self.key else None,
            self.setting,
        )


SOURCES: tuple[Source, ...] = (
    Source(
        "OPENAI_API_KEY",
        "openai",
        ("OPENAI_CHAT_MODEL", "gpt-4o-mini"),
        ("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small"),
        url=OPENAI_URL,
        key="OPENAI_API_KEY",
    ),
    Source(
        "TOGETHER_API_KEY",
        "openai",
        ("TOGETHER_CHAT_MODEL", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("TOGETHER_EMBEDDING_MODEL", "togethercomputer/m2-bert-80M-8k-retrieval"),
        url=TOGETHER_URL,
        key="TOGETHER_API_KEY",
    ),
    Source(
        "LLM_API_URL",
        "openai",
        ("LLM_MODEL", "llama3"),
        ("LLM_EMBEDDING_MODEL", "mxbai-embed-large"),
        key="LLM_API_KEY",
    ),
    Source(
        "OLLAMA_HOST",
        "ollama",
        ("OLLAMA_MODEL", "llama3"),
        ("OLLAMA_EMBEDDING_MODEL", "mxbai-embed-large"),
        scheme="http",
    ),
)

#: the class that speaks each API
PROVIDERS: dict[Kind, type[HTTPProvider]] = {"openai": OpenAICompatible, "ollama": Ollama}


def config_from_env(env: Mapping[str, str]) -> LLMConfig | None:
    """The LLM the first of :data:`SOURCES` set in ``env`` chooses; None: none is set."""
    for source in SOURCES:
        if env.get(source.setting):
            return source.config(env)
    return None


def open_provider(
    config: LLMConfig,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    concurrency: int = DEFAULT_CONCURRENCY,
    prices: Mapping[str, Price] | None = None,
) -> HTTPProvider:
    return PROVIDERS[config.kind](
        config,
        httpx.AsyncClient(timeout=timeout),
        retry_delays=retry_delays,
        concurrency=concurrency,
        prices=dict(KNOWN_PRICES if prices is None else prices),
    )


def parse_concurrency(raw: str) -> int:
    """LLM requests allowed in flight at once, from ``SMALLTOWN_LLM_CONCURRENCY``'s text
    (default 8): the settings table's parser; ValueError says what is wrong."""
    text = raw.strip()
    if not text:
        return DEFAULT_CONCURRENCY
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{CONCURRENCY_SETTING} must be a whole number above 0, got {text!r}")
    return int(text)
