"""``smalltown run`` (and a bare ``smalltown``): open the store, then serve the app on it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace

from smalltown import __version__
from smalltown.cli import options
from smalltown.config import Settings

NAME = "run"
log = logging.getLogger("smalltown.cli")


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    run = sub.add_parser(NAME, help="start the server (the default command)")
    options.database(run, settings)
    options.mirror(run, "--host", settings, "host")
    options.mirror(run, "--port", settings, "port", type=int)
    options.mirror(run, "--app", settings, "app")


def handle(args: argparse.Namespace, settings: Settings) -> int:
    """The flags over the environment's settings (a bare ``smalltown`` has no flags)."""
    return _run(
        replace(
            settings,
            database_url=getattr(args, "database", settings.database_url),
            host=getattr(args, "host", settings.host),
            port=getattr(args, "port", settings.port),
            app=getattr(args, "app", settings.app),
        )
    )


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
        return _run_loop(_serve(settings))
    except StoreError as exc:
        print(f"smalltown: cannot start: {exc}", file=sys.stderr)
        return 1
    except (ImportError, ValueError) as exc:
        print(f"smalltown: cannot load app {settings.app!r}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


async def _serve(settings: Settings) -> int:
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
        await server.serve()
        return 0 if server.started else 1
    finally:
        await store.close()
