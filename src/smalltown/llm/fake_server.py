"""A stand-in LLM server on loopback, for tests and ``smalltown bench agents`` only.

It speaks OpenAI's (``/v1/chat/completions``, ``/v1/embeddings``) and Ollama's (``/api/chat``,
``/api/embed``) APIs over real HTTP, so the real providers, retries and timeouts are what
gets exercised. Nothing in ``smalltown run`` uses it. It answers from a queue of scripted
replies, or a rule (a callable from the request to the reply), or a default; it can wait a
fixed latency and inject faults for the next requests: an HTTP status (500, 429, ...),
``"timeout"`` (hold the request past the client's patience), ``"malformed"`` (a body that is
not JSON) or ``"empty"`` (a reply with no text). Every request is recorded, and the count
in flight is kept (and reported to ``on_in_flight``, for measuring how busy the slots are).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import re
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DIMS = 8
FAULTS = ("timeout", "malformed", "empty")
#: (path, body) -> the reply's text, or None to fall back to the queue and the default
Rule = Callable[[str, dict[str, Any]], "str | None"]


def fake_embedding(text: str, dims: int = DIMS) -> list[float]:
    """A fixed vector per text (from its hash): the same text, the same vector."""
    digest = hashlib.sha256(text.encode()).digest()
    while len(digest) < dims:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 128 for b in digest[:dims]]


def count_words(text: str) -> int:
    return len(text.split())


def count_like_a_tokenizer(text: str) -> int:
    """About four characters a token, as OpenAI's tokenizers average on English."""
    return math.ceil(len(text) / 4)


def plan_reply(asked: str) -> str:
    """A small model's answer to a planning prompt (``agents/planning.py``): a day of four
    items from the time and the places the prompt gives, or three steps; for scripted
    rules (the bench's, tests')."""
    if "Break this into" in asked:
        return "1. Get ready\n2. Get on with it\n3. Tidy up"
    found = re.search(r"It is (\d\d):(\d\d)", asked)
    places = re.search(r"The places you can go: (.*?)\.\n", asked)
    if found is None or places is None:
        return "No plan today."
    start = int(found[1]) * 60 + int(found[2])
    names = places[1].split("; ")
    lines = []
    for k in range(4):
        minute = min(start + 90 * k, 24 * 60 - 4 + k)
        place = names[k % len(names)]
        lines.append(f"{minute // 60:02d}:{minute % 60:02d} | {place} | keeping busy | 🙂")
    return "\n".join(lines)


class FakeLLM:
    """The app (``.app``) and its script; serve it with :class:`FakeLLMServer`."""

    def __init__(
        self,
        dims: int = DIMS,
        delay: float = 0.0,
        rule: Rule | None = None,
        count_tokens: Callable[[str], int] = count_words,
    ) -> None:
        self.dims = dims
        self.delay = delay
        self.rule = rule
        self.count_tokens = count_tokens
        self.replies: deque[str] = deque()
        self.default_reply = "Lovely weather for it."
        self.fail_next: deque[int | str] = deque()
        #: how long a "timeout" fault holds its request (unless released sooner)
        self.hang_seconds = 30.0
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.on_in_flight: Callable[[int], None] | None = None
        self._release = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai_chat, methods=["POST"]),
                Route("/v1/embeddings", self._openai_embed, methods=["POST"]),
                Route("/api/chat", self._ollama_chat, methods=["POST"]),
                Route("/api/embed", self._ollama_embed, methods=["POST"]),
            ]
        )

    def fail(self, fault: int | str, times: int = 1) -> None:
        """The next ``times`` requests fail with ``fault``: a status code or one of FAULTS."""
        if isinstance(fault, str) and fault not in FAULTS:
            raise ValueError(f"fault must be a status code or one of {FAULTS}, got {fault!r}")
        self.fail_next.extend([fault] * times)

    def release(self) -> None:
        """Let requests held by "timeout" faults go (with an error status)."""
        self._release.set()

    def chats(self) -> list[dict[str, Any]]:
        """The bodies of the chat requests received so far, oldest first."""
        return [b for p, b, _ in self.requests if p in ("/v1/chat/completions", "/api/chat")]

    def _count(self, delta: int) -> None:
        self.in_flight += delta
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.on_in_flight is not None:
            self.on_in_flight(self.in_flight)

    async def _enter(self, request: Request) -> tuple[dict[str, Any], Response | str | None]:
        """The request's body, and a fault to answer with (a response, or "empty")."""
        body = await request.json()
        self.requests.append((request.url.path, body, dict(request.headers)))
        self._count(+1)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            fault = self.fail_next.popleft() if self.fail_next else None
            if fault == "timeout":
                self._release.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._release.wait(), self.hang_seconds)
                return body, JSONResponse({"error": {"message": "held too long"}}, 504)
        finally:
            self._count(-1)
        if fault == "malformed":
            return body, Response('{"choices": [{"message": ', 200, media_type="application/json")
        if isinstance(fault, int):
            return body, JSONResponse({"error": {"message": f"scripted {fault}"}}, fault)
        return body, fault

    def _reply(self, path: str, body: dict[str, Any], fault: str | None) -> str:
        if fault == "empty":
            return ""
        if self.rule is not None and (text := self.rule(path, body)) is not None:
            return text
        return self.replies.popleft() if self.replies else self.default_reply

    async def _openai_chat(self, request: Request) -> Response:
        body, fault = await self._enter(request)
        if isinstance(fault, Response):
            return fault
        text = self._reply(request.url.path, body, fault)
        return JSONResponse(
            {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
                "usage": {
                    "prompt_tokens": sum(self.count_tokens(m["content"]) for m in body["messages"]),
                    "completion_tokens": self.count_tokens(text),
                },
            }
        )

    def _vectors(self, texts: list[str], fault: str | None) -> list[list[float]]:
        return [[] if fault == "empty" else fake_embedding(t, self.dims) for t in texts]

    async def _openai_embed(self, request: Request) -> Response:
        body, fault = await self._enter(request)
        if isinstance(fault, Response):
            return fault
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = self._vectors(texts, fault)
        data = [{"index": i, "embedding": v} for i, v in enumerate(vectors)]
        tokens = sum(self.count_tokens(t) for t in texts)
        return JSONResponse(  # any order; index says which
            {
                "data": list(reversed(data)),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _ollama_chat(self, request: Request) -> Response:
        body, fault = await self._enter(request)
        if isinstance(fault, Response):
            return fault
        text = self._reply(request.url.path, body, fault)
        return JSONResponse(
            {
                "message": {"role": "assistant", "content": text},
                "prompt_eval_count": 12,
                "eval_count": self.count_tokens(text),
            }
        )

    async def _ollama_embed(self, request: Request) -> Response:
        body, fault = await self._enter(request)
        if isinstance(fault, Response):
            return fault
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return JSONResponse({"embeddings": self._vectors(texts, fault)})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeLLMServer:
    """Serves a :class:`FakeLLM` on a loopback port in this event loop; ``stop()`` and
    ``start()`` again on the same port make the LLM go away (connections refused) and
    come back."""

    def __init__(self, fake: FakeLLM, port: int | None = None) -> None:
        self.fake = fake
        self.port = port or free_port()
        self._server: Any = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(
            self.fake.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 20
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the fake LLM server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError("the fake LLM server did not start in 20 s")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is None:
            return
        self.fake.release()
        self._server.should_exit = True
        await asyncio.wait_for(self._task, 30)
        self._task = None

    async def __aenter__(self) -> FakeLLMServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
