"""The ASGI application, composed from its parts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from smalltown import __version__
from smalltown.store import Schema, Store, StoreError, open_store

log = logging.getLogger("smalltown.server")


async def health(request: Request) -> JSONResponse:
    """Liveness and what the town runs on; 503 when the store cannot be read."""
    store: Store = request.app.state.store
    body = {
        "status": "ok",
        "version": __version__,
        "store": {"provider": store.provider_name, "url": store.url},
    }
    try:
        await store.ping()
    except StoreError as exc:
        body["status"] = "unavailable"
        body["store"]["error"] = str(exc)
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


def create_app(store: Store | str, schema: Schema | None = None) -> Starlette:
    """The app over ``store``; given a URL instead, the app opens and closes the store."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = isinstance(store, str)
        app.state.store = await open_store(store, schema) if owned else store
        log.info("serving %s (%s)", app.state.store.url, app.state.store.provider_name)
        try:
            yield
        finally:
            if owned:
                await app.state.store.close()

    return Starlette(routes=[Route("/health", health)], lifespan=lifespan)
