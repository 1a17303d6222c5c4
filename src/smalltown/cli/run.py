"""``smalltown run`` (and a bare ``smalltown``): take the port, open the store, then serve
the app on it. Each of the three that fails is one line and exit status 1."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import socket
import sys
from dataclasses import replace

from smalltown import __version__
from smalltown.cli import options
from smalltown.config import BY_ATTRIBUTE, Settings

NAME = "run"
log = logging.getLogger("smalltown.cli")


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    run = sub.add_parser(NAME, help="start the server (the default command)")
    options.database(run, settings)
    options.mirror(run, "--host", settings, "host")
    options.mirror(run, "--port", settings, "port", type=_port)
    options.mirror(run, "--app", settings, "app")


def handle(args: argparse.Namespace, settings: Settings) -> int:
    """The flags over the environment's settings (a bare ``smalltown`` has no flags)."""
    return _run(
        replace(
            settings,
            database_url=getattr(args, "database", settings.database_url),
            host=getattr(args, "host", settings.host),
            port=getattr(args, "port", settings.port),
            app=options.app_package(args) if hasattr(args, "app") else settings.app,
        )
    )


def _port(raw: str) -> int:
    """``--port``, checked as ``SMALLTOWN_PORT`` is (the settings table's parser)."""
    try:
        return BY_ATTRIBUTE["port"].parse(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be {exc}, got {raw!r}") from None


class CannotListen(Exception):
    """The server's address cannot be taken; the message is the line to show."""


def _listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to ``host:port`` (one per address it names, as uvicorn would bind
    them), before anything else starts: a port in use is one line, not a traceback after
    the store and the app have started."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound: list[socket.socket] = []
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in bound:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(
                f"{shown} is in use (another smalltown? choose another with --port or "
                "SMALLTOWN_PORT)"
            ) from None
        reason = exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {shown}: {reason}") from None
    return bound


def _run_loop(coro):
    """Serve on uvloop where it is installed (uvicorn's standard extra brings it): its
    transports write a WebSocket frame in C, which is most of fanning an update out to
    many subscribers; asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _run(settings: Settings) -> int:
    from smalltown.store import StoreError

    try:
        listening = _listen(settings.host, settings.port)
    except CannotListen as exc:
        print(f"smalltown: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        return _run_loop(_serve(settings, listening))
    except StoreError as exc:
        print(f"smalltown: cannot start: {exc}", file=sys.stderr)
        return 1
    except (ImportError, ValueError) as exc:
        print(f"smalltown: cannot load app {settings.app!r}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for sock in listening:
            sock.close()


async def _serve(settings: Settings, listening: list[socket.socket]) -> int:
    """Open the store first, so a bad URL is one clear line, not a server traceback."""
    import uvicorn

    from smalltown.server import ServerSettings, create_app
    from smalltown.server.ratelimit import RateLimits
    from smalltown.server.sync import SyncSettings
    from smalltown.store import open_store

    store = await open_store(settings.database_url)
    try:
        server_settings = ServerSettings(
            admin_key=settings.admin_key,
            sync=SyncSettings(max_queries=settings.max_subscriptions),
            rate_limits=RateLimits(rate=settings.rate_limit, burst=settings.rate_burst),
            max_body_bytes=settings.max_body_bytes,
            redis_url=settings.redis_url,
        )
        app = create_app(store, settings.app, server_settings, settings)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            ws_max_size=settings.max_body_bytes,
            # Transitions are small and many; compressing each costs more CPU than it saves.
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        log.info(
            "smalltown %s at http://%s:%d on %s",
            __version__,
            settings.host,
            settings.port,
            store.url,
        )
        await server.serve(sockets=listening)
        return 0 if server.started else 1
    finally:
        await store.close()
