"""What the HTTP providers share: one client, retries, a cap on requests in flight, usage.

A provider is one configuration's server, async (httpx), with a timeout per request, a cap
on requests in flight, and bounded retries with back-off on 429 and 5xx (AI Town waits 1,
10 and 20 s). A failure that survives the retries becomes an :mod:`errors` exception whose
message names the server and the setting that fixes it. Each API's request and reply
shapes live in its own module: ``openai_compatible.py`` and ``ollama.py``.

Retries bound one call; an outage is many calls, each failing. So a provider also backs off
as a whole (:class:`Backoff`): once calls fail in a row for the server's sake (unreachable,
5xx, 429, a refused key), new calls fail at once without asking it, until a wait that
doubles with each failure, with jitter, up to a cap; then one call tries it, and the first
success ends the outage. ``outage`` says whether one is on (``/health`` reports it).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx

from smalltown.llm.base import ChatResult, Composer, EmbedResult, Usage
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
#: longest wait between tries of a failing server (seconds)
BACKOFF_CAP = 60.0

#: (path under the base URL, JSON body)
Request = tuple[str, dict[str, Any]]
#: which API a server speaks (``config.py`` maps each to its provider class)
Kind = Literal["openai", "ollama"]


@dataclass(frozen=True)
class LLMConfig:
    """One server to use: its API, address, models, key, and the variable that chose it."""

    kind: Kind
    base_url: str
    chat_model: str
    embedding_model: str
    api_key: str | None = field(default=None, repr=False)  # never in a log line
    source: str = ""  # which variable chose it, for messages and /health

    def describe(self) -> str:
        return (
            f"{self.kind} at {self.base_url} (chat {self.chat_model}, embeddings "
            f"{self.embedding_model}; from {self.source})"
        )


@dataclass
class Backoff:
    """A provider's outage: calls failed in a row, and when the next may try the server.
    One failed call (its retries spent) may be bad luck: the next call tries at once. From
    the second in a row the wait starts at ``base`` and doubles with each failure up to
    ``cap``, each drawn between half and all of that (jitter: many processes do not come
    back at once)."""

    base: float = 1.0
    cap: float = BACKOFF_CAP
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0  # calls failed in a row (0: no outage)
    since: float | None = None  # wall time the outage began
    next_try: float = 0.0  # clock time from which one call may try the server
    probing: bool = False  # that call is under way: the others still fail at once

    def admit(self) -> float | None:
        """None if a call may go to the server now; else seconds until one may."""
        if not self.failures:
            return None
        wait = self.next_try - self.clock()
        if wait > 0 or self.probing:
            return max(wait, 0.0)
        self.probing = True
        return None

    def failed(self) -> float:
        """Count a failed call; the seconds until the next may try."""
        self.failures += 1
        self.probing = False
        if self.since is None:
            self.since = time.time()
        if self.failures < 2:
            self.next_try = self.clock()
            return 0.0
        ceiling = min(self.cap, self.base * 2 ** min(self.failures - 2, 32))
        wait = ceiling * (0.5 + self.rng.random() / 2)
        self.next_try = self.clock() + wait
        return wait

    def succeeded(self) -> None:
        self.failures, self.since, self.next_try, self.probing = 0, None, 0.0, False

    def settle(self) -> None:
        """A call that went to the server ended neither way (cancelled, or a reply the
        server is not to blame for): let another try."""
        self.probing = False


@dataclass
class HTTPProvider:
    """An :class:`~smalltown.llm.base.LLM` and embedder over HTTP; a subclass says how its
    API asks and answers (the ``_..._request`` and ``_..._reply`` methods)."""

    config: LLMConfig
    client: httpx.AsyncClient
    retry_delays: Sequence[float] = RETRY_DELAYS
    concurrency: int = DEFAULT_CONCURRENCY
    usage: Usage = field(default_factory=Usage)
    #: US dollars per million tokens, by model, for :meth:`cost`
    prices: Mapping[str, Price] = field(default_factory=lambda: dict(KNOWN_PRICES))
    #: whether calls cost nothing (a server here or on the local network); None: from the URL
    local: bool | None = None

    #: the outage back-off; its first wait is the first retry delay (1 s by default)
    backoff: Backoff | None = None

    composer: ClassVar[Composer | None] = None  # a real model: lines come from chat
    dimensions: ClassVar[int | None] = None  # servers do not say: ask

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)
        if self.backoff is None:
            self.backoff = Backoff(base=self.retry_delays[0] if self.retry_delays else 1.0)

    @property
    def outage(self) -> dict[str, Any] | None:
        """None while the server answers; else since when calls fail, how many in a row,
        the last error and when the next call may try (for /health)."""
        backoff = self.backoff
        if backoff is None or not backoff.failures:
            return None
        return {
            "since": backoff.since,
            "failuresInARow": backoff.failures,
            "lastError": self.usage.last_error,
            "retryInSeconds": round(max(backoff.next_try - backoff.clock(), 0.0), 3),
        }

    @property
    def is_local(self) -> bool:
        """Whether calls cost nothing: a server here or on the local network."""
        return self.local if self.local is not None else is_local(self.config.base_url)

    @property
    def description(self) -> str:
        return self.config.describe()

    @property
    def chat_model(self) -> str:
        return self.config.chat_model

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
        path, body = self._chat_request(messages, max_tokens, temperature, list(stop))
        result = self._chat_reply(await self._post(path, body))
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
        path, body = self._embed_request(list(texts))
        data = await self._post(path, body)
        vectors, tokens = self._embed_reply(data)
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

    # --- what each API says, in its own module ---------------------------------------------

    def _chat_request(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float, stop: list
    ) -> Request:
        raise NotImplementedError

    def _chat_reply(self, data: dict[str, Any]) -> ChatResult:
        raise NotImplementedError

    def _embed_request(self, texts: list[str]) -> Request:
        raise NotImplementedError

    def _embed_reply(self, data: dict[str, Any]) -> tuple[Any, Any]:
        """(the vectors, the tokens counted), as the server sent them: checked by the caller."""
        raise NotImplementedError

    # --- the one way to the server ----------------------------------------------------------

    def _where(self) -> str:
        return f"{self.config.kind} at {self.config.base_url}"

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The server's JSON reply, through the outage back-off: while the server keeps
        failing, a call fails at once (as unavailable) rather than asking it again."""
        backoff = self.backoff
        assert backoff is not None
        wait = backoff.admit()
        if wait is not None:
            self.usage.failures += 1
            raise LLMUnavailable(
                f"{self._where()} is failing ({backoff.failures} calls in a row; last: "
                f"{self.usage.last_error}); not asked again for {wait:.1f} s"
            )
        try:
            data = await self._post_retrying(path, body)
        except (LLMUnavailable, LLMRateLimited, LLMAuthError) as exc:
            wait = backoff.failed()
            log.warning("%s; backing off: the next call tries in %.1f s", exc, wait)
            raise
        except BaseException:
            backoff.settle()
            raise
        if backoff.failures:
            log.info("%s answers again", self._where())
        self.usage.last_error = None  # the last call succeeded: no error is current
        backoff.succeeded()
        return data

    async def _post_retrying(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
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


def text_at(data: Any, *keys: str) -> str:
    """The text at ``data[keys[0]][keys[1]]...``; a reply without it is a response error."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise LLMResponseError(f"the reply has no {'.'.join(keys)}: {data!r:.200}")
        data = data[key]
    if not isinstance(data, str):
        raise LLMResponseError(f"{'.'.join(keys)} is not text: {data!r:.200}")
    return data
