"""Database URLs: the scheme that picks a provider, the parts each provider reads, and the
form shown in messages and logs (password masked).

Only string handling lives here, no driver, so ``open_store`` and every provider can use it
without importing one another.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit


def mask_password(url: str) -> str:
    """``url`` with its password, if any, as ``***``: safe to show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def is_database_url(url: object) -> bool:
    """Whether ``url`` has the ``scheme://`` form every database URL has."""
    return isinstance(url, str) and "://" in url


def scheme(url: str) -> str:
    """The URL's scheme, lower-cased: which provider opens it."""
    return url.split("://", 1)[0].lower()


def after_scheme(url: str) -> str:
    """Everything after ``scheme://``."""
    return url.split("://", 1)[1]


def sqlite_path(url: str) -> str:
    """The file path of ``sqlite:///relative`` or ``sqlite:////absolute`` ("" if none)."""
    path = after_scheme(url)
    return path[1:] if path.startswith("/") else path


def postgres_conninfo(url: str) -> str:
    """``url`` as psycopg takes it: ``postgresql://``, whichever of the two schemes it had."""
    return "postgresql://" + after_scheme(url)


def database_name(url: str) -> str:
    """The database a MongoDB URL names in its path ("" if none). Raises ValueError for a
    malformed URL."""
    return urlsplit(url).path.lstrip("/")


def option_names(url: str) -> set[str]:
    """The names of the URL's query options, lower-cased (MongoDB's are case-insensitive).
    Raises ValueError for a malformed URL."""
    return {k.lower() for k in parse_qs(urlsplit(url).query)}
