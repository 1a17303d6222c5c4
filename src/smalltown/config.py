"""Every setting smalltown reads from the environment: one table, and the Settings it makes.

The process reads its environment here and nowhere else: the CLI calls
:meth:`Settings.from_env` once before any command runs (``create_app`` does when it is
given none), and every part takes its values from that ``Settings``.

Each entry of ``SETTINGS`` names a ``SMALLTOWN_*`` variable, its default, the parser that
checks it, one line of help (for the CLI's flags; the README's table lists the same
variables and defaults, and a test holds it to this one) and the ``Settings`` attribute it
fills. A bad value stops the start with one line that names the variable, the value and
what it takes (:class:`SettingError`), before anything is opened. The LLM server is chosen
with them, from AI Town's own variables (``llm/config.py``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from smalltown.llm import LLMConfig, budget, config_from_env, embedders, prices
from smalltown.llm import config as llm_config
from smalltown.llm.http_provider import DEFAULT_CONCURRENCY

DEFAULT_APP = "smalltown.town"
UNSET = "unset"  # how the README shows a setting that is off until given
_DEFAULT: Any = object()  # an empty value means the default


class SettingError(ValueError):
    """A setting's value is not one it takes; the message is the one line to show."""

    def __init__(self, name: str, raw: str, expected: str) -> None:
        self.name, self.raw = name, raw
        if expected.startswith(name):  # a whole sentence already (the llm package's checks)
            shown = "got " in expected or f"={raw.strip().lower()}" in expected.lower()
            message = expected if shown else f"{expected}; got {_quoted(raw)}"
        else:
            message = f"{name} must be {expected}, got {_quoted(raw)}"
        super().__init__(message)


def _quoted(raw: str, longest: int = 120) -> str:
    """The value as given, on one line, cut when it is long (a JSON price table, say)."""
    text = repr(raw)
    return text if len(text) <= longest else f"{text[: longest - 3]}..."


@dataclass(frozen=True)
class Setting:
    """One environment variable: what it is called, fills, defaults to, takes and does."""

    name: str
    attribute: str
    default: Any
    parse: Callable[[str], Any]  # raises ValueError saying what it takes
    help: str
    shown: str = ""  # the default as the README's table shows it; empty: `default`
    when_empty: Any = _DEFAULT  # what an empty value means, if not the default

    @property
    def shown_default(self) -> str:
        if self.shown:
            return self.shown
        value = self.default
        return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"

    def read(self, env: Mapping[str, str]) -> Any:
        """The value ``env`` gives this setting: the default when it is unset or empty."""
        raw = env.get(self.name)
        if raw is None or (raw == "" and self.when_empty is _DEFAULT):
            return self.default
        if raw == "":
            return self.when_empty
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise SettingError(self.name, raw, str(exc)) from None


# Parsers: each takes the variable's text (never empty) and returns the value, or raises
# ValueError with what it takes ("a whole number above 0"), or with a whole sentence that
# starts with the variable's name.


def _text(raw: str) -> str:
    return raw


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """Python's own syntax for ``kind`` (``8_000``, `` 50 ``, ``1e3`` for floats), above 0."""
    expected = "a whole number above 0" if kind is int else "a number above 0"

    def parse(raw: str) -> float:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(expected) from None
        if not value > 0:  # NaN too
            raise ValueError(expected)
        return value

    return parse


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError("a port number (1 to 65535)")
    return port


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("1, true, yes or on; or 0, false, no or off")


def _public_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError("an http:// or https:// URL such as https://town.example.org")
    return raw.strip().rstrip("/")


def _redis_url(raw: str) -> str:
    if urlsplit(raw.strip()).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("a Redis URL (redis://host:6379/0, rediss://... or unix://...)")
    return raw.strip()


def _history_days(raw: str) -> float | None:
    """Days of history kept; ``0`` keeps everything (None)."""
    text = raw.strip()
    if not text:
        return DEFAULT_HISTORY_DAYS
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not 0 <= days < math.inf:
        raise ValueError("a number of days, 0 or more (0 keeps everything)")
    return days or None


def _step_ms(raw: str) -> float:
    """Whole milliseconds above 0, written as the runner has always read them (no spaces)."""
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) <= 0:
        raise ValueError("a whole number of milliseconds above 0")
    return float(raw)


def _time_scale(raw: str) -> float:
    """A plain decimal above 0 (``2``, ``0.5``), as the runner has always read it."""
    if not re.fullmatch(r"[0-9]+\.?[0-9]*|\.[0-9]+", raw) or float(raw) <= 0:
        raise ValueError("a number above 0 (2 runs twice as fast, 0.5 half as fast)")
    return float(raw)


def _prices(raw: str) -> Mapping[str, prices.Price]:
    return MappingProxyType(prices.parse_prices(raw))


def _embedder(raw: str) -> str:
    """One of the embedders; whether ``provider`` has a provider is checked with the rest."""
    return embedders.choice(raw, have_provider=True)


DEFAULT_DATABASE_URL = "sqlite:///./data/smalltown.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_HISTORY_DAYS = 14.0  # as AI Town keeps inputs
DEFAULT_STEP_MS = 1000.0
DEFAULT_TIME_SCALE = 1.0

#: every SMALLTOWN_* variable, in the order the README lists them
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SMALLTOWN_DATABASE_URL",
        "database_url",
        DEFAULT_DATABASE_URL,
        _text,  # its scheme is checked when the store opens it, as a --database URL is
        "where the town lives: sqlite:///path, postgresql://... or mongodb://...",
    ),
    Setting("SMALLTOWN_HOST", "host", DEFAULT_HOST, _text, "the address the server listens on"),
    Setting("SMALLTOWN_PORT", "port", DEFAULT_PORT, _port, "the port the server listens on"),
    Setting(
        "SMALLTOWN_PUBLIC_URL",
        "public_url",
        None,
        _public_url,
        "where browsers reach this server, for the whole URLs of its assets a page served "
        "elsewhere (AI Town's) loads",
        shown="`http://HOST:PORT`",
    ),
    Setting(
        "SMALLTOWN_VIEWERS_MAY_FREEZE",
        "viewers_may_freeze",
        False,
        _flag,
        "let anyone freeze and unfreeze the default world (AI Town's Freeze button, "
        "`testing:stop`/`resume`); the admin key always may",
        shown="`0`",
    ),
    Setting(
        "SMALLTOWN_APP",
        "app",
        DEFAULT_APP,
        _text,
        "the Python package of functions (and schema, crons) to serve; empty for none",
        when_empty=None,  # set but empty: serve no app
    ),
    Setting(
        "SMALLTOWN_ADMIN_KEY",
        "admin_key",
        None,
        _text,
        "the admin key; generated and kept in the database when unset",
        shown="generated",
    ),
    Setting(
        "SMALLTOWN_RATE_LIMIT",
        "rate_limit",
        50.0,
        _positive(float),
        "function calls a second allowed per user and per client address",
    ),
    Setting(
        "SMALLTOWN_RATE_BURST",
        "rate_burst",
        200.0,
        _positive(float),
        "calls allowed at once before the rate limit applies",
    ),
    Setting(
        "SMALLTOWN_MAX_BODY_BYTES",
        "max_body_bytes",
        8 << 20,
        _positive(int),
        "largest HTTP body and WebSocket frame accepted",
    ),
    Setting(
        "SMALLTOWN_MAX_SUBSCRIPTIONS",
        "max_subscriptions",
        1000,
        _positive(int),
        "live queries allowed on one WebSocket",
    ),
    Setting(
        "SMALLTOWN_STEP_MS",
        "step_ms",
        DEFAULT_STEP_MS,
        _step_ms,
        "how much game time one world step covers (ms)",
    ),
    Setting(
        "SMALLTOWN_REDIS_URL",
        "redis_url",
        None,
        _redis_url,
        "Redis for several processes on one database, so each one's changes reach the "
        "live queries of every other",
        shown=UNSET,
    ),
    Setting(
        "SMALLTOWN_HISTORY_DAYS",
        "history_days",
        DEFAULT_HISTORY_DAYS,
        _history_days,
        "days of each world's step records and inputs kept (game time); 0 keeps everything",
    ),
    Setting(
        "SMALLTOWN_TIME_SCALE",
        "time_scale",
        DEFAULT_TIME_SCALE,
        _time_scale,
        "game time per wall-clock time (2 runs towns twice as fast)",
    ),
    Setting(
        budget.SETTING,
        "llm_tokens_per_hour",
        None,
        budget.parse_tokens_per_hour,
        "a cap on each world's LLM tokens (in and out, embeddings included) each clock hour; "
        "when spent, that world's agents keep walking but make no LLM calls until the hour "
        "turns",
        shown="no cap",
    ),
    Setting(
        llm_config.CONCURRENCY_SETTING,
        "llm_concurrency",
        DEFAULT_CONCURRENCY,
        llm_config.parse_concurrency,
        "LLM requests in flight at once; agents' operations beyond it wait their turn",
    ),
    Setting(
        prices.SETTING,
        "llm_prices",
        MappingProxyType(dict(prices.KNOWN_PRICES)),
        _prices,
        'LLM prices for the cost estimate, as JSON {model: {"input": $/Mtok, "output": '
        "$/Mtok}}; adds to or replaces the built-in table",
        shown="built-in table",
    ),
    Setting(
        embedders.SETTING,
        "embeddings",
        None,  # the configured LLM's when there is one, else minilm
        _embedder,
        "which embedder makes memories' vectors: provider (the configured LLM's), minilm "
        "(on this machine) or hashed (shared words only)",
        shown="`provider` when one is configured, else `minilm`",
    ),
)

BY_NAME: Mapping[str, Setting] = MappingProxyType({s.name: s for s in SETTINGS})
BY_ATTRIBUTE: Mapping[str, Setting] = MappingProxyType({s.attribute: s for s in SETTINGS})


def _default(attribute: str) -> Any:
    """The Settings field for ``attribute``, defaulting as its table entry says."""
    default = BY_ATTRIBUTE[attribute].default
    return field(default_factory=lambda: default)


@dataclass(frozen=True)
class Settings:
    """What the environment set, checked; one attribute per entry of ``SETTINGS``."""

    database_url: str = _default("database_url")
    host: str = _default("host")
    port: int = _default("port")
    public_url: str | None = _default("public_url")  # None: http://host:port
    viewers_may_freeze: bool = _default("viewers_may_freeze")
    app: str | None = _default("app")  # None: serve no app
    admin_key: str | None = _default("admin_key")
    rate_limit: float = _default("rate_limit")
    rate_burst: float = _default("rate_burst")
    max_body_bytes: int = _default("max_body_bytes")
    max_subscriptions: int = _default("max_subscriptions")
    redis_url: str | None = _default("redis_url")
    step_ms: float = _default("step_ms")
    time_scale: float = _default("time_scale")
    history_days: float | None = _default("history_days")  # None: keep everything
    llm_tokens_per_hour: int | None = _default("llm_tokens_per_hour")  # None: no cap
    llm_concurrency: int = _default("llm_concurrency")
    llm_prices: Mapping[str, prices.Price] = _default("llm_prices")
    embeddings: str | None = _default("embeddings")  # None: by whether an LLM is set
    #: the LLM server AI Town's variables choose (``llm/config.py``'s ``SOURCES``, not
    #: ``SMALLTOWN_*`` ones, so not in the table); None: the offline brain
    llm: LLMConfig | None = None

    @property
    def base_url(self) -> str:
        """Where browsers reach this server: ``public_url``, else its host and port (a
        wildcard host as this machine's loopback)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every setting read from ``env`` (the process's environment by default) and
        checked; the first bad one raises :class:`SettingError`."""
        env = dict(os.environ if env is None else env)
        values = {s.attribute: s.read(env) for s in SETTINGS}
        llm = config_from_env(env)
        if values["embeddings"] == "provider":  # only now known: is an LLM configured?
            try:
                embedders.choice(values["embeddings"], llm is not None)
            except ValueError as exc:
                raise SettingError(embedders.SETTING, env[embedders.SETTING], str(exc)) from None
        return cls(**values, llm=llm)
