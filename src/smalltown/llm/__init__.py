"""The LLM: one contract (``base.py``) and its providers side by side: any OpenAI-compatible
server (``openai_compatible.py``), Ollama's own API (``ollama.py``), and the offline brain
(``offline.py``) when none is configured; chosen from the environment by ``config.py``.
Embedders, prices, each world's token budget and the errors live beside them."""

from smalltown.llm.base import (
    LLM,
    ChatResult,
    Composer,
    Embedder,
    EmbedResult,
    Persona,
    Usage,
)
from smalltown.llm.config import NO_LLM, config_from_env, open_provider
from smalltown.llm.errors import (
    LLMAuthError,
    LLMBudgetExceeded,
    LLMError,
    LLMRateLimited,
    LLMResponseError,
    LLMUnavailable,
)
from smalltown.llm.http_provider import HTTPProvider, LLMConfig

__all__ = [
    "LLM",
    "NO_LLM",
    "ChatResult",
    "Composer",
    "EmbedResult",
    "Embedder",
    "HTTPProvider",
    "LLMAuthError",
    "LLMBudgetExceeded",
    "LLMConfig",
    "LLMError",
    "LLMRateLimited",
    "LLMResponseError",
    "LLMUnavailable",
    "Persona",
    "Usage",
    "config_from_env",
    "open_provider",
]
