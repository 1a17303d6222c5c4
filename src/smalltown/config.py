"""Settings read from the environment, in one place, with their defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///./data/smalltown.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        port = env.get("SMALLTOWN_PORT", str(DEFAULT_PORT))
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"SMALLTOWN_PORT must be a port number, got {port!r}")
        return cls(
            database_url=env.get("SMALLTOWN_DATABASE_URL", DEFAULT_DATABASE_URL),
            host=env.get("SMALLTOWN_HOST", DEFAULT_HOST),
            port=int(port),
        )


#: every setting, for the docs test: name -> what it does
SETTINGS_DOC = {
    "SMALLTOWN_DATABASE_URL": "where the town lives: sqlite:///path, postgresql://... or mongodb://...",
    "SMALLTOWN_HOST": "the address the server listens on",
    "SMALLTOWN_PORT": "the port the server listens on",
}
