"""LLM errors. Each message says what failed, where, and what to do about it.

LLMError
├── LLMUnavailable     the server cannot be reached, or keeps failing (5xx, timeouts)
│   └── EmbedderUnavailable  the offline embedding model cannot be loaded (not installed)
├── LLMAuthError       the server refused the key (401/403)
├── LLMRateLimited     still 429 after the retries
├── LLMResponseError   an answer that is not what the API promises (or a 4xx)
└── LLMBudgetExceeded  the world's tokens for this hour are spent: no call was made
"""


class LLMError(Exception):
    pass


class LLMUnavailable(LLMError):
    pass


class EmbedderUnavailable(LLMUnavailable):
    pass


class LLMAuthError(LLMError):
    pass


class LLMRateLimited(LLMError):
    pass


class LLMResponseError(LLMError):
    pass


class LLMBudgetExceeded(LLMError):
    def __init__(self, message: str, tokens_per_hour: int, resets_at: float) -> None:
        super().__init__(message)
        self.tokens_per_hour = tokens_per_hour
        #: when the budget refills (seconds since the epoch: the next clock hour)
        self.resets_at = resets_at
