"""Chat and embeddings over HTTP: OpenAI-compatible servers and Ollama's native API.

One provider per configuration, async (httpx), with a timeout per request, a cap on
requests in flight, and bounded retries with back-off on 429 and 5xx (AI Town waits 1, 10
and 20 s). A failure that survives the retries becomes an :mod:`errors` exception whose
message names the server and the setting that fixes it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from smalltown.llm.config import LLMConfig
from smalltown.llm.errors import (
    LLMAuthError,
    LLMRateLimited,
    LLMResponseError,
    LLMUnavailable,
)
from smalltown.llm.prices import KNOWN_PRICES, Cost, Price, call_cost, estimate, is_local

log = logging.getLogger("smalltown.llm")
RETRY_DELAYS = (1.0, 10.0, 20.0)
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONCURRENCY = 8
CONCURRENCY_SETTING = "SMALLTOWN_LLM_CONCURRENCY"


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class EmbedResult:
    vectors: list[list[float]]
    tokens: int = 0  # what the server reported for the texts embedded


@dataclass
class Usage:
    """What this provider has spent since the process started, for /health (each world's
    share is kept in the store; see :mod:`smalltown.town.usage`)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedding_tokens: int = 0
    failures: int = 0
    last_error: str | None = None


@dataclass
class Provider:
    config: LLMConfig
    client: httpx.AsyncClient
    retry_delays: Sequence[float] = RETRY_DELAYS
    concurrency: int = DEFAULT_CONCURRENCY
    usage: Usage = field(default_factory=Usage)
    #: US dollars per million tokens, by model, for :meth:`cost`
    prices: Mapping[str, Price] = field(default_factory=lambda: dict(KNOWN_PRICES))
    #: whether calls cost nothing (a server here or on the local network); None: from the URL
    local: bool | None = None

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    @property
    def is_local(self) -> bool:
        """Whether calls cost nothing: Ollama, or a server here or on the local network."""
        if self.local is not None:
            return self.local
        return self.config.kind == "ollama" or is_local(self.config.base_url)

    @property
    def description(self) -> str:
        return self.config.describe()

    @property
    def embedding_model(self) -> str:
        return self.config.embedding_model

    def cost(self) -> Cost:
        """What the tokens used so far cost, estimated (nothing on a local server)."""
        return estimate(
            self.config.chat_model,
            self.config.embedding_model,
            self.usage.prompt_tokens,
            self.usage.completion_tokens,
            self.usage.embedding_tokens,
            self.prices,
            local=self.is_local,
        )

    def price_call(self, model: str, input_tokens: int, output_tokens: int = 0) -> float | None:
        """One call's dollars: 0 on a local server, None when ``model`` has no price."""
        return call_cost(model, input_tokens, output_tokens, self.prices, self.is_local)

    async def close(self) -> None:
        await self.client.aclose()

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 300,
        temperature: float = 0.7,
        stop: Sequence[str] = (),
    ) -> ChatResult:
        """The assistant's reply to ``messages`` (``[{"role", "content"}]``)."""
        if self.config.kind == "ollama":
            body: dict[str, Any] = {
                "model": self.config.chat_model,
                "messages": messages,
                "stream": False,
                "options": {
                    "temperature": temperature,
                    "num_predict": max_tokens,
                    **({"stop": list(stop)} if stop else {}),
                },
            }
            data = await self._post("/api/chat", body)
            text = _dig(data, "message", "content")
            result = ChatResult(text, data.get("prompt_eval_count", 0), data.get("eval_count", 0))
        else:
            body = {
                "model": self.config.chat_model,
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": temperature,
                **({"stop": list(stop)} if stop else {}),
            }
            data = await self._post("/chat/completions", body)
            choices = data.get("choices")
            if not isinstance(choices, list) or not choices:
                raise LLMResponseError(f"{self._where()}: the reply has no choices: {data!r:.200}")
            text = _dig(choices[0], "message", "content")
            usage = data.get("usage") or {}
            result = ChatResult(
                text, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
            )
        self.usage.prompt_tokens += result.prompt_tokens
        self.usage.completion_tokens += result.completion_tokens
        return result

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        return (await self.embed_counted(texts)).vectors

    async def embed_counted(self, texts: Sequence[str]) -> EmbedResult:
        """The vectors, and the tokens the server counted for them (for usage per world)."""
        if not texts:
            return EmbedResult([])
        if self.config.kind == "ollama":
            data = await self._post(
                "/api/embed", {"model": self.config.embedding_model, "input": list(texts)}
            )
            vectors = data.get("embeddings")
            tokens = data.get("prompt_eval_count", 0)
        else:
            data = await self._post(
                "/embeddings", {"model": self.config.embedding_model, "input": list(texts)}
            )
            items = data.get("data")
            tokens = (data.get("usage") or {}).get("prompt_tokens", 0)
            vectors = None
            if isinstance(items, list):
                vectors = [item.get("embedding") for item in sorted(items, key=_index)]
        if (
            not isinstance(vectors, list)
            or len(vectors) != len(texts)
            or not all(isinstance(v, list) and v for v in vectors)
        ):
            raise LLMResponseError(
                f"{self._where()}: expected {len(texts)} embeddings, got {data!r:.200}"
            )
        tokens = tokens if isinstance(tokens, int) and tokens > 0 else 0
        self.usage.embedding_tokens += tokens
        return EmbedResult([[float(x) for x in v] for v in vectors], tokens)

    def _where(self) -> str:
        return f"{self.config.kind} at {self.config.base_url}"

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.config.base_url + path
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        attempts = len(self.retry_delays) + 1
        async with self._slots:
            for attempt in range(attempts):
                self.usage.requests += 1
                try:
                    reply = await self.client.post(url, json=body, headers=headers)
                except httpx.TimeoutException as exc:
                    problem: Exception = LLMUnavailable(
                        f"{self._where()} did not answer in time ({exc.__class__.__name__})"
                    )
                except httpx.TransportError as exc:
                    error = LLMUnavailable(
                        f"cannot reach {self._where()}: {exc}. Start the server, or point "
                        f"{self.config.source} elsewhere"
                    )
                    self._failed(str(error))
                    raise error from exc
                else:
                    if reply.status_code < 300:
                        try:
                            data = reply.json()
                        except ValueError:
                            self._failed("not JSON")
                            raise LLMResponseError(
                                f"{self._where()}: the reply is not JSON: {reply.text[:200]!r}"
                            ) from None
                        if not isinstance(data, dict):
                            raise LLMResponseError(
                                f"{self._where()}: unexpected reply {data!r:.200}"
                            )
                        return data
                    if reply.status_code in (401, 403):
                        self._failed(f"HTTP {reply.status_code}")
                        raise LLMAuthError(
                            f"{self._where()} refused the key (HTTP {reply.status_code}); "
                            f"check the key set with {self.config.source}"
                        )
                    if reply.status_code == 429:
                        problem = LLMRateLimited(
                            f"{self._where()} is rate limiting us (HTTP 429) after "
                            f"{attempts} attempts"
                        )
                    elif reply.status_code >= 500:
                        problem = LLMUnavailable(
                            f"{self._where()} failed with HTTP {reply.status_code}: "
                            f"{reply.text[:200]}"
                        )
                    else:
                        self._failed(f"HTTP {reply.status_code}")
                        raise LLMResponseError(
                            f"{self._where()} refused the request (HTTP {reply.status_code}): "
                            f"{reply.text[:300]}. Is the model name right?"
                        )
                if attempt + 1 < attempts:
                    delay = self.retry_delays[attempt]
                    log.warning("%s; retrying in %.1f s", problem, delay)
                    await asyncio.sleep(delay)
            self._failed(str(problem))
            raise problem

    def _failed(self, message: str) -> None:
        self.usage.failures += 1
        self.usage.last_error = message


def _dig(data: Any, *keys: str) -> str:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise LLMResponseError(f"the reply has no {'.'.join(keys)}: {data!r:.200}")
        data = data[key]
    if not isinstance(data, str):
        raise LLMResponseError(f"{'.'.join(keys)} is not text: {data!r:.200}")
    return data


def _index(item: Any) -> int:
    return item.get("index", 0) if isinstance(item, dict) else 0


def concurrency_from_env(env: Mapping[str, str] | None = None) -> int:
    """LLM requests allowed in flight at once (``SMALLTOWN_LLM_CONCURRENCY``, default 8);
    ValueError says what is wrong."""
    raw = (os.environ if env is None else env).get(CONCURRENCY_SETTING, "").strip()
    if not raw:
        return DEFAULT_CONCURRENCY
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{CONCURRENCY_SETTING} must be a whole number above 0, got {raw!r}")
    return int(raw)


def open_provider(
    config: LLMConfig,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    concurrency: int = DEFAULT_CONCURRENCY,
    prices: Mapping[str, Price] | None = None,
) -> Provider:
    return Provider(
        config,
        httpx.AsyncClient(timeout=timeout),
        retry_delays=retry_delays,
        concurrency=concurrency,
        prices=dict(KNOWN_PRICES if prices is None else prices),
    )
