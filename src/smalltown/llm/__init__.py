"""Chat and embedding providers: any OpenAI-compatible server, and Ollama's own API."""

from smalltown.llm.config import LLMConfig, config_from_env
from smalltown.llm.errors import (
    LLMAuthError,
    LLMBudgetExceeded,
    LLMError,
    LLMRateLimited,
    LLMResponseError,
    LLMUnavailable,
)
from smalltown.llm.providers import ChatResult, Provider, open_provider

__all__ = [
    "ChatResult",
    "LLMAuthError",
    "LLMBudgetExceeded",
    "LLMConfig",
    "LLMError",
    "LLMRateLimited",
    "LLMResponseError",
    "LLMUnavailable",
    "Provider",
    "config_from_env",
    "open_provider",
]
