"""Any OpenAI-compatible server: OpenAI, Together, vLLM, llama.cpp's server, LM Studio,
Ollama's ``/v1``. Chat at ``/chat/completions``, vectors at ``/embeddings``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smalltown.llm.base import ChatResult
from smalltown.llm.errors import LLMResponseError
from smalltown.llm.http_provider import HTTPProvider, Request, text_at


@dataclass
class OpenAICompatible(HTTPProvider):
    def _chat_request(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float, stop: list
    ) -> Request:
        return "/chat/completions", {
            "model": self.config.chat_model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            **({"stop": stop} if stop else {}),
        }

    def _chat_reply(self, data: dict[str, Any]) -> ChatResult:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise LLMResponseError(f"{self._where()}: the reply has no choices: {data!r:.200}")
        usage = data.get("usage") or {}
        return ChatResult(
            text_at(choices[0], "message", "content"),
            usage.get("prompt_tokens", 0),
            usage.get("completion_tokens", 0),
        )

    def _embed_request(self, texts: list[str]) -> Request:
        return "/embeddings", {"model": self.config.embedding_model, "input": texts}

    def _embed_reply(self, data: dict[str, Any]) -> tuple[Any, Any]:
        items = data.get("data")
        vectors = None
        if isinstance(items, list):
            vectors = [item.get("embedding") for item in sorted(items, key=_index)]
        return vectors, (data.get("usage") or {}).get("prompt_tokens", 0)


def _index(item: Any) -> int:
    return item.get("index", 0) if isinstance(item, dict) else 0
