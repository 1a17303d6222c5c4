"""Settings read from the environment, in one place, with their defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass

from smalltown.llm import config_from_env, embedders
from smalltown.llm.budget import tokens_per_hour_from_env
from smalltown.llm.config import concurrency_from_env
from smalltown.llm.prices import prices_from_env

DEFAULT_DATABASE_URL = "sqlite:///./data/smalltown.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_APP = "smalltown.town"

#: every setting, for the docs and the docs test: name -> what it does
SETTINGS_DOC = {
    "SMALLTOWN_DATABASE_URL": "where the town lives: sqlite:///path, postgresql://... or mongodb://...",
    "SMALLTOWN_HOST": "the address the server listens on",
    "SMALLTOWN_PORT": "the port the server listens on",
    "SMALLTOWN_APP": "the Python package of functions (and schema, crons) to serve; "
    "smalltown.town by default, empty for none",
    "SMALLTOWN_ADMIN_KEY": "the admin key; generated and kept in the database when unset",
    "SMALLTOWN_RATE_LIMIT": "function calls a second allowed per user and per client address",
    "SMALLTOWN_RATE_BURST": "calls allowed at once before the rate limit applies",
    "SMALLTOWN_MAX_BODY_BYTES": "largest HTTP body and WebSocket frame accepted",
    "SMALLTOWN_MAX_SUBSCRIPTIONS": "live queries allowed on one WebSocket",
    "SMALLTOWN_LLM_TOKENS_PER_HOUR": "a cap on each world's LLM tokens (in and out, "
    "embeddings included) each clock hour; when spent, that world's agents keep walking but "
    "make no LLM calls until the hour turns",
    "SMALLTOWN_LLM_CONCURRENCY": "LLM requests in flight at once (8 by default); agents' "
    "operations beyond it wait their turn",
    "SMALLTOWN_LLM_PRICES": "LLM prices for the cost estimate, as JSON "
    '{model: {"input": $/Mtok, "output": $/Mtok}}; adds to or replaces the built-in table',
    "SMALLTOWN_EMBEDDINGS": "which embedder makes memories' vectors: provider (the "
    "configured LLM's), minilm (on this machine) or hashed (shared words only)",
    "SMALLTOWN_STEP_MS": "how much game time one world step covers (ms)",
    "SMALLTOWN_TIME_SCALE": "game time per wall-clock time (2 runs towns twice as fast)",
}


def _number(env: dict[str, str], name: str, default: float, kind=float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    app: str | None = DEFAULT_APP
    admin_key: str | None = None
    rate_limit: float = 50.0
    rate_burst: float = 200.0
    max_body_bytes: int = 8 << 20
    max_subscriptions: int = 1000
    redis_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        port = int(_number(env, "SMALLTOWN_PORT", DEFAULT_PORT, int))
        if port >= 65536:
            raise ValueError(f"SMALLTOWN_PORT must be a port number, got {port}")
        prices_from_env(env)  # refused now, with the expected shape, not at the first call
        tokens_per_hour_from_env(env)
        concurrency_from_env(env)
        embedders.choice(env, config_from_env(env) is not None)
        return cls(
            database_url=env.get("SMALLTOWN_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env.get("SMALLTOWN_HOST") or DEFAULT_HOST,
            port=port,
            app=env.get("SMALLTOWN_APP", DEFAULT_APP) or None,
            admin_key=env.get("SMALLTOWN_ADMIN_KEY") or None,
            rate_limit=_number(env, "SMALLTOWN_RATE_LIMIT", 50.0),
            rate_burst=_number(env, "SMALLTOWN_RATE_BURST", 200.0),
            max_body_bytes=int(_number(env, "SMALLTOWN_MAX_BODY_BYTES", 8 << 20, int)),
            max_subscriptions=int(_number(env, "SMALLTOWN_MAX_SUBSCRIPTIONS", 1000, int)),
            redis_url=env.get("SMALLTOWN_REDIS_URL") or None,
        )
