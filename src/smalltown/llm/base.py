"""The LLM contract: what every chat model and embedder offers the town, and nothing more.

An :class:`LLM` answers chat messages and says what it has used and what that cost; an
:class:`Embedder` turns texts into vectors. The HTTP providers (``openai_compatible.py``,
``ollama.py``, on ``http_provider.py``) are both. The offline brain (``offline.py``) is an
LLM with no model behind it: its lines come from its :class:`Composer`, and it counts no
usage. MiniLM and hashed words (``minilm.py``, ``hashed_embeddings.py``) are embedders that
run in this process. A capability one kind lacks is an attribute that is None here, so
callers never look a method up by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict

from smalltown.llm.prices import Cost

#: ``(author name, text)``, oldest first
Transcript = Sequence[tuple[str, str]]


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
    """What a provider has spent since the process started, for /health (each world's
    share is kept in the store; see :mod:`smalltown.worlds.usage`)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedding_tokens: int = 0
    failures: int = 0
    last_error: str | None = None


class Persona(TypedDict):
    """Who speaks, or is spoken to, as prompts and the composer read them."""

    name: str
    description: str
    identity: str
    plan: str


class Composer(Protocol):
    """Talk without a language model: lines and memories made from templates."""

    async def compose(
        self,
        kind: str,
        me: Persona,
        other: Persona,
        transcript: Transcript,
        seed: str,
        memories: Sequence[str] = (),
        embedder: Embedder | None = None,
    ) -> str:
        """``me``'s next line to ``other`` (``kind``: start, continue or leave), the same
        for the same ``seed``; ``embedder`` finds what bears on the last line (None: shared
        words do)."""
        ...

    def remember(self, other: str, transcript: Transcript) -> str:
        """What to write down after a conversation with ``other``."""
        ...

    def plan(self, me: Persona, places: Sequence[str], minute: int, seed: str) -> str:
        """``me``'s plan for the rest of the day from ``minute`` (of the day), in the
        planning prompt's answer format (``HH:MM | place | activity | emoji`` lines)."""
        ...

    def plan_steps(self, activity: str, seed: str) -> str:
        """A few short steps of ``activity``, one a line."""
        ...


class Embedder(Protocol):
    """Texts to vectors, one per text, in order.

    Its attributes are read-only here, so an attribute, a property or a class constant
    provides them alike.
    """

    @property
    def embedding_model(self) -> str:
        """A name that changes whenever the vectors would (caches and the index key on it)."""
        ...

    @property
    def description(self) -> str:
        """For /health and log lines."""
        ...

    @property
    def dimensions(self) -> int | None:
        """The vectors' size when known without asking; None: embed something to find out."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class LLM(Protocol):
    """A chat model, with the embeddings its server offers (read-only attributes, as
    :class:`Embedder`'s are)."""

    @property
    def description(self) -> str:
        """What it is and where, for /health, log lines and error messages."""
        ...

    @property
    def chat_model(self) -> str: ...

    @property
    def embedding_model(self) -> str: ...

    @property
    def is_local(self) -> bool:
        """Whether its calls cost nothing (a server on this machine or network, or none)."""
        ...

    @property
    def usage(self) -> Usage | None:
        """What it has used since start; None when it calls no model (the offline brain)."""
        ...

    @property
    def composer(self) -> Composer | None:
        """Set when its lines come from templates instead of :meth:`chat` (offline brain)."""
        ...

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 300,
        temperature: float = 0.7,
        stop: Sequence[str] = (),
    ) -> ChatResult:
        """The assistant's reply to ``messages`` (``[{"role", "content"}]``)."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def embed_counted(self, texts: Sequence[str]) -> EmbedResult:
        """The vectors, and the tokens the server counted for them (for usage per world)."""
        ...

    def price_call(self, model: str, input_tokens: int, output_tokens: int = 0) -> float | None:
        """One call's dollars: 0 when local, None when ``model`` has no price."""
        ...

    def cost(self) -> Cost:
        """What the tokens used since start cost, estimated."""
        ...

    async def close(self) -> None: ...
