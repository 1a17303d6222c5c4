"""Ollama's own API: chat at ``/api/chat``, vectors at ``/api/embed``. Ollama runs models
on the machine it is on, so its calls cost nothing unless told otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smalltown.llm.base import ChatResult
from smalltown.llm.http_provider import HTTPProvider, Request, text_at


@dataclass
class Ollama(HTTPProvider):
    @property
    def is_local(self) -> bool:
        return self.local if self.local is not None else True

    def _chat_request(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float, stop: list
    ) -> Request:
        return "/api/chat", {
            "model": self.config.chat_model,
            "messages": messages,
            "stream": False,
            "options": {
                "temperature": temperature,
                "num_predict": max_tokens,
                **({"stop": stop} if stop else {}),
            },
        }

    def _chat_reply(self, data: dict[str, Any]) -> ChatResult:
        return ChatResult(
            text_at(data, "message", "content"),
            data.get("prompt_eval_count", 0),
            data.get("eval_count", 0),
        )

    def _embed_request(self, texts: list[str]) -> Request:
        return "/api/embed", {"model": self.config.embedding_model, "input": texts}

    def _embed_reply(self, data: dict[str, Any]) -> tuple[Any, Any]:
        return data.get("embeddings"), data.get("prompt_eval_count", 0)
