"""The ASGI application, composed from its parts: health, the HTTP API, the sync socket."""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from smalltown import __version__, web
from smalltown.config import ROLES, Settings
from smalltown.runtime import Registry, Runtime
from smalltown.runtime.scheduler import Crons, SchedulerWorker
from smalltown.runtime.subscriptions import Invalidator, LocalInvalidator, SubscriptionManager
from smalltown.server import http_api, storage_route
from smalltown.server.dedupe import MutationDeduper
from smalltown.server.errors import http_error_response, to_result
from smalltown.server.metrics import Metrics, metrics_endpoint
from smalltown.server.ratelimit import RateLimiter, RateLimits
from smalltown.server.sync import SyncConnection, SyncSettings
from smalltown.store import Schema, Store, StoreError, open_store

log = logging.getLogger("smalltown.server")
#: actions a worker runs at once, for each of its LLM slots (see ``_actions``)
ACTIONS_OVER_SLOTS = 1.25


@dataclass(frozen=True)
class ServerSettings:
    admin_key: str | None = None
    sync: SyncSettings = field(default_factory=SyncSettings)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    max_body_bytes: int = http_api.MAX_BODY_BYTES
    #: Redis for several processes on one database (None: this process alone)
    redis_url: str | None = None


@dataclass(frozen=True)
class App:
    """A package of function modules with a ``schema`` (in ``<package>.schema``), and
    optionally ``crons`` (a :class:`Crons`, in ``<package>.crons``) and a background
    service (``start(runtime, settings)`` in ``<package>.service``, given the process's
    :class:`~smalltown.config.Settings`, returning something to close)."""

    schema: Schema
    registry: Registry
    crons: Crons
    start_service: Any = None
    assets: Path | None = None  # <package>/assets, served at /assets


def load_app(package: str | None) -> App:
    if package is None:
        return App(Schema([]), Registry(), Crons())
    try:
        schema_module = importlib.import_module(f"{package}.schema")
    except ModuleNotFoundError:
        schema_module = importlib.import_module(package)
    schema = getattr(schema_module, "schema", None)
    if not isinstance(schema, Schema):
        raise ValueError(f"app {package!r} has no `schema` (a smalltown.store.Schema)")
    try:
        crons = getattr(importlib.import_module(f"{package}.crons"), "crons", Crons())
    except ModuleNotFoundError:
        crons = Crons()
    try:
        start_service = importlib.import_module(f"{package}.service").start
    except (ModuleNotFoundError, AttributeError):
        start_service = None
    # The package's folder from __path__: a namespace package (no __init__.py) has no __file__.
    root = Path(next(iter(importlib.import_module(package).__path__))) / "assets"
    return App(
        schema,
        Registry.from_package(package),
        crons,
        start_service,
        root if root.is_dir() else None,
    )


async def health(request: Request) -> JSONResponse:
    """Liveness and what the town runs on; 503 when the store cannot be read; "degraded"
    with 200 while the app's LLM fails (the town still serves)."""
    store: Store = request.app.state.store
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "store": {"provider": store.provider_name, "url": store.url},
    }
    runtime = getattr(request.app.state, "runtime", None)
    info = runtime.extensions.get("health") if runtime is not None else None
    if info:
        body["app"] = info() if callable(info) else info
    roles = getattr(request.app.state, "roles", frozenset(ROLES))
    body["roles"] = [role for role in ROLES if role in roles]
    worker = getattr(request.app.state, "scheduler", None)
    if "worker" in roles:  # (a process of other roles runs no scheduler)
        body["scheduler"] = {"alive": bool(worker and worker.alive)}
    subscriptions = getattr(request.app.state, "subscriptions", None)
    describe = getattr(subscriptions and subscriptions.invalidator, "describe", None)
    if describe is not None:
        body["redis"] = describe()
    try:
        await store.ping()
    except StoreError as exc:
        body["status"] = "unavailable"
        body["store"]["error"] = str(exc)
        return JSONResponse(body, status_code=503)
    if not body.get("scheduler", {"alive": True})["alive"]:
        body["status"] = "degraded"
        return JSONResponse(body, status_code=503)
    if "redis" in body and not body["redis"]["listening"]:
        body["status"] = "degraded"
        body["redis"]["error"] = (
            "Redis does not answer: other processes' changes do not reach this one's live "
            "queries until it is back (it is retried; every live query re-runs then)"
        )
        return JSONResponse(body, status_code=503)
    if isinstance(body.get("app"), dict) and body["app"].get("llmStatus") == "degraded":
        body["status"] = "degraded"  # the LLM fails: the town serves (200), agents wait
    return JSONResponse(body)


async def sync_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    state.metrics.connections.inc()
    try:
        await _serve_sync(websocket, state)
    finally:
        state.metrics.connections.dec()


async def _serve_sync(websocket: WebSocket, state) -> None:
    await SyncConnection(
        websocket,
        state.runtime,
        state.subscriptions,
        state.deduper,
        state.settings.sync,
        state.limiter,
        state.metrics,
    ).run()


def _actions(config: Settings) -> int | None:
    """Actions a worker runs at once: with an LLM, its slots and a quarter more (an action
    between two calls holds none), so that the rest wait pending for whichever worker
    has a slot free rather than in one worker's queue; without one, no limit."""
    if config.llm is None:
        return None
    return math.ceil(config.llm_concurrency * ACTIONS_OVER_SLOTS)


def create_app(
    store: Store | str,
    app: str | None = None,
    settings: ServerSettings | None = None,
    config: Settings | None = None,
) -> Starlette:
    """The app over ``store`` running the functions of package ``app``.

    Given a URL instead of a Store, the app opens and closes the store itself. ``config``
    is what the app's service starts with: the CLI's, or the environment's read here.
    """
    settings = settings or ServerSettings()
    config = Settings.from_env() if config is None else config
    loaded = load_app(app)
    schema, registry, crons = loaded.schema, loaded.registry, loaded.crons

    @asynccontextmanager
    async def lifespan(server: Starlette) -> AsyncIterator[None]:
        owned = isinstance(store, str)
        opened = await open_store(store, schema) if isinstance(store, str) else store
        state = server.state
        state.store = opened
        state.settings = settings
        try:
            state.runtime = await Runtime.create(opened, schema, registry, settings.admin_key)
            state.subscriptions = SubscriptionManager(
                state.runtime, _invalidator(settings.redis_url), to_result
            )
            state.deduper = MutationDeduper()
            state.limiter = RateLimiter(settings.rate_limits)
            state.metrics = Metrics()
            state.runtime.observers.append(state.metrics.observe_call)
            # (every role keeps the live queries' invalidator: a runner's or a worker's
            # commits reach the web processes' live queries through it)
            state.roles = config.roles
            state.scheduler = SchedulerWorker(
                state.runtime,
                crons,
                max_actions=_actions(config),
                commits=state.subscriptions.on_commit,
            )
            await state.subscriptions.start()
            if settings.redis_url is not None:
                await state.subscriptions.invalidator.wait_listening()
            if "worker" in config.roles:
                await state.scheduler.start()
            state.service = None
            if loaded.start_service is not None:
                state.service = await loaded.start_service(state.runtime, config)
            log.info("serving %s (%s)", opened.url, opened.provider_name)
            yield
            if state.service is not None:
                await state.service.close()
            if "worker" in config.roles:
                await state.scheduler.close()
            await state.subscriptions.close()
        finally:
            if owned:
                await opened.close()

    routes: list[BaseRoute] = [Route("/health", health), Route("/metrics", metrics_endpoint)]
    if "web" in config.roles:  # (a runner or a worker serves its health and metrics alone)
        routes += [
            *http_api.routes,
            *storage_route.routes,
            WebSocketRoute("/api/sync", sync_endpoint),
            WebSocketRoute("/api/{version}/sync", sync_endpoint),
            http_api.not_found_route,
        ]
        if loaded.assets is not None:
            assets = shared_across_origins(StaticFiles(directory=loaded.assets))
            routes.append(Mount("/assets", assets, name="assets"))
        routes.append(Mount("/", StaticFiles(directory=web.STATIC, html=True), name="web"))
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error_response},
    )


def shared_across_origins(inner: ASGIApp) -> ASGIApp:
    """``inner`` with ``Access-Control-Allow-Origin: *`` on its responses: the app's
    assets (tiles, sprites, music) are public, and a page served from another origin,
    such as AI Town's own build, draws them into a canvas, which needs CORS."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = "*"
            await send(message)

        await inner(scope, receive, send_with_cors)

    return app


def _invalidator(redis_url: str | None) -> Invalidator:
    """Commits of this process alone, or, with Redis, of every process on the database."""
    if redis_url is None:
        return LocalInvalidator()
    try:
        from smalltown.runtime.redis_invalidator import RedisInvalidator
    except ImportError as exc:  # redis-py is an optional package
        raise RuntimeError(
            f"SMALLTOWN_REDIS_URL is set but {exc.name} is not installed: "
            "pip install 'smalltown[redis]'"
        ) from None

    return RedisInvalidator(redis_url)
