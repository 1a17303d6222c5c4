"""A scripted LLM server on loopback: OpenAI's and Ollama's APIs, the one fake we allow.

Replies come from a queue (or a default); failures can be injected (a status code for the
next N requests); every request is recorded, with how many were in flight at once.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DIMS = 8


def fake_embedding(text: str, dims: int = DIMS) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 128) / 128 for b in digest[:dims]]


class FakeLLM:
    def __init__(self, dims: int = DIMS, delay: float = 0.0) -> None:
        self.dims = dims
        self.delay = delay
        self.replies: deque[str] = deque()
        self.default_reply = "Lovely weather for it."
        self.fail_next: deque[int] = deque()
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai_chat, methods=["POST"]),
                Route("/v1/embeddings", self._openai_embed, methods=["POST"]),
                Route("/api/chat", self._ollama_chat, methods=["POST"]),
                Route("/api/embed", self._ollama_embed, methods=["POST"]),
            ]
        )

    def fail(self, status: int, times: int = 1) -> None:
        self.fail_next.extend([status] * times)

    async def _enter(self, request: Request) -> tuple[dict[str, Any], JSONResponse | None]:
        body = await request.json()
        self.requests.append((request.url.path, body, dict(request.headers)))
        if self.fail_next:
            status = self.fail_next.popleft()
            return body, JSONResponse({"error": {"message": f"scripted {status}"}}, status)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return body, None

    def _reply(self) -> str:
        return self.replies.popleft() if self.replies else self.default_reply

    async def _openai_chat(self, request: Request) -> JSONResponse:
        body, failed = await self._enter(request)
        if failed:
            return failed
        text = self._reply()
        return JSONResponse(
            {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
                "usage": {
                    "prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
                    "completion_tokens": len(text.split()),
                },
            }
        )

    async def _openai_embed(self, request: Request) -> JSONResponse:
        body, failed = await self._enter(request)
        if failed:
            return failed
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"index": i, "embedding": fake_embedding(t, self.dims)} for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return JSONResponse(  # any order; index says which
            {
                "data": list(reversed(data)),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _ollama_chat(self, request: Request) -> JSONResponse:
        _, failed = await self._enter(request)
        if failed:
            return failed
        text = self._reply()
        return JSONResponse(
            {
                "message": {"role": "assistant", "content": text},
                "prompt_eval_count": 12,
                "eval_count": len(text.split()),
            }
        )

    async def _ollama_embed(self, request: Request) -> JSONResponse:
        body, failed = await self._enter(request)
        if failed:
            return failed
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return JSONResponse({"embeddings": [fake_embedding(t, self.dims) for t in texts]})
