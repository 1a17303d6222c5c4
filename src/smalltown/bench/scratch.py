"""A scratch PostgreSQL database: made on a server for one run, dropped after it, so a
benchmark of several processes starts from nothing and leaves nothing behind."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode, urlsplit


def postgres_database_url(server_url: str, name: str) -> str:
    """``server_url`` naming the database ``name`` instead: the path replaced and a
    ``dbname`` option dropped; the rest kept, such as a socket folder given as
    ``?host=/var/run/postgresql``."""
    parts = urlsplit(server_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"]
    options = f"?{urlencode(query, safe='/')}" if query else ""
    # (by hand: urlunsplit drops the "//" of an empty host, as in postgresql:///db)
    return f"{parts.scheme}://{parts.netloc}/{name}{options}"


class ScratchDatabaseError(Exception):
    """No scratch database could be made: the server is unreachable or refused."""


@contextlib.asynccontextmanager
async def scratch_postgres(
    server_url: str, prefix: str = "smalltown_scratch_"
) -> AsyncIterator[str]:
    """The URL of a new, empty database on the server ``server_url`` reaches (any database
    of it, ``postgres`` say), dropped when the block ends, however it ends."""
    import psycopg

    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    try:
        admin = await psycopg.AsyncConnection.connect(
            server_url, autocommit=True, connect_timeout=5
        )
    except psycopg.Error as exc:
        raise ScratchDatabaseError(f"cannot reach PostgreSQL at {server_url}: {exc}") from exc
    try:
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as exc:
            raise ScratchDatabaseError(f"cannot create a database there: {exc}") from exc
        try:
            yield postgres_database_url(server_url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
