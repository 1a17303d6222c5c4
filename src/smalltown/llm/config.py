"""Which LLM to use, from the environment, with AI Town's variable names.

An AI Town ``.env`` works unchanged. The first that is set wins:

1. ``OPENAI_API_KEY`` → OpenAI (``OPENAI_CHAT_MODEL``, ``OPENAI_EMBEDDING_MODEL``)
2. ``TOGETHER_API_KEY`` → Together's OpenAI-compatible API
3. ``LLM_API_URL`` → any OpenAI-compatible server (``LLM_MODEL``, ``LLM_EMBEDDING_MODEL``,
   ``LLM_API_KEY``): vLLM, llama.cpp's server, LM Studio, Ollama's ``/v1``
4. ``OLLAMA_HOST`` → Ollama's native API (``OLLAMA_MODEL``, ``OLLAMA_EMBEDDING_MODEL``)
5. nothing set → ``None``: the caller uses its offline default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

OPENAI_URL = "https://api.openai.com/v1"
TOGETHER_URL = "https://api.together.xyz/v1"


@dataclass(frozen=True)
class LLMConfig:
    kind: Literal["openai", "ollama"]
    base_url: str
    chat_model: str
    embedding_model: str
    api_key: str | None = None
    source: str = ""  # which variable chose it, for messages and /health

    def describe(self) -> str:
        return (
            f"{self.kind} at {self.base_url} (chat {self.chat_model}, embeddings "
            f"{self.embedding_model}; from {self.source})"
        )


def config_from_env(env: dict[str, str] | None = None) -> LLMConfig | None:
    env = dict(os.environ if env is None else env)
    if key := env.get("OPENAI_API_KEY"):
        return LLMConfig(
            "openai",
            OPENAI_URL,
            env.get("OPENAI_CHAT_MODEL") or "gpt-4o-mini",
            env.get("OPENAI_EMBEDDING_MODEL") or "text-embedding-3-small",
            key,
            "OPENAI_API_KEY",
        )
    if key := env.get("TOGETHER_API_KEY"):
        return LLMConfig(
            "openai",
            TOGETHER_URL,
            env.get("TOGETHER_CHAT_MODEL") or "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            env.get("TOGETHER_EMBEDDING_MODEL") or "togethercomputer/m2-bert-80M-8k-retrieval",
            key,
            "TOGETHER_API_KEY",
        )
    if url := env.get("LLM_API_URL"):
        return LLMConfig(
            "openai",
            url.rstrip("/"),
            env.get("LLM_MODEL") or "llama3",
            env.get("LLM_EMBEDDING_MODEL") or "mxbai-embed-large",
            env.get("LLM_API_KEY") or None,
            "LLM_API_URL",
        )
    if host := env.get("OLLAMA_HOST"):
        if "://" not in host:
            host = f"http://{host}"
        return LLMConfig(
            "ollama",
            host.rstrip("/"),
            env.get("OLLAMA_MODEL") or "llama3",
            env.get("OLLAMA_EMBEDDING_MODEL") or "mxbai-embed-large",
            None,
            "OLLAMA_HOST",
        )
    return None
