"""The fake LLM lives in the package (``smalltown.llm.fake_server``), as the benchmark
needs it too; tests import it from here."""

from smalltown.llm.fake_server import (
    DIMS,
    FAULTS,
    FakeLLM,
    FakeLLMServer,
    count_like_a_tokenizer,
    fake_embedding,
    plan_reply,
)

__all__ = [
    "DIMS",
    "FAULTS",
    "FakeLLM",
    "FakeLLMServer",
    "count_like_a_tokenizer",
    "fake_embedding",
    "plan_reply",
]
