"""``smalltown run`` (and a bare ``smalltown``): take the port, open the store, then serve
the app on it. Each of the three that fails is one line and exit status 1."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace

from smalltown import __version__
from smalltown.cli import options
from smalltown.config import BY_ATTRIBUTE, ROLES, Settings

NAME = "run"
log = logging.getLogger("smalltown.cli")
#: how much lower a process that is only a worker runs on the CPU (nice): its work waits on
#: the LLM and takes what time is left, while a runner's steps and a web process's answers
#: are due at a moment, so on a shared host busy workers no longer make steps late
#: (``smalltown bench town`` measures it)
WORKER_NICE = 10
#: on SIGTERM, how long open requests and connections get to finish before they are cut
#: (uvicorn waits for them without end otherwise: a half-sent request holds the stop)
GRACE_SECONDS = 2


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    run = sub.add_parser(NAME, help="start the server (the default command)")
    options.database(run, settings)
    options.mirror(run, "--host", settings, "host")
    options.mirror(run, "--port", settings, "port", type=_port)
    options.mirror(run, "--app", settings, "app")
    options.mirror(run, "--role", settings, "roles", type=_roles)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    """The flags over the environment's settings (a bare ``smalltown`` has no flags)."""
    return _run(
        replace(
            settings,
            database_url=getattr(args, "database", settings.database_url),
            host=getattr(args, "host", settings.host),
            port=getattr(args, "port", settings.port),
            app=options.app_package(args) if hasattr(args, "app") else settings.app,
            roles=getattr(args, "role", settings.roles),
        )
    )


def _port(raw: str) -> int:
    """``--port``, checked as ``SMALLTOWN_PORT`` is (the settings table's parser)."""
    try:
        return BY_ATTRIBUTE["port"].parse(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be {exc}, got {raw!r}") from None


def _roles(raw: str) -> frozenset[str]:
    """``--role``, checked as ``SMALLTOWN_ROLE`` is."""
    try:
        return BY_ATTRIBUTE["roles"].parse(raw)
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
    if settings.roles == {"worker"}:
        os.nice(WORKER_NICE)
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
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        server = _server(config)
        log.info(
            "smalltown %s at http://%s:%d on %s, as %s",
            __version__,
            settings.host,
            settings.port,
            store.url,
            ", ".join(role for role in ROLES if role in settings.roles),
        )
        await server.serve(sockets=listening)
        return 0 if server.started else 1
    finally:
        await store.close()
        await _leave_no_task_behind()


def _server(config):
    """uvicorn's server, except that the signal that stopped it (SIGTERM, Ctrl-C) is not
    raised again once it stopped: uvicorn does so to end the process as the signal would,
    which skipped closing the store and, for Ctrl-C, left the event loop waiting for ever
    on a task that would not be cancelled. The stop then finishes here, bounded, and the
    process exits 0."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            stops = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server(config)


async def _leave_no_task_behind() -> None:
    """Stop whatever tasks are left once the server stopped, within a bound. Should one
    refuse (a cancel swallowed on Python 3.11, and again), the process ends here rather
    than in the event loop's own last wait for its tasks, which has no end."""
    from smalltown.runtime.stopping import stop_tasks

    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    if not await stop_tasks(left, "the server's stop"):
        logging.shutdown()
        os._exit(0)
