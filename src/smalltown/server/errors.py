"""How failures look to clients: one mapping for HTTP and the sync socket.

Errors a caller can act on (bad arguments, a missing function, ConvexError, a store error
such as an unknown id) reach it with their message (and ConvexError's data). Anything else
is a bug on our side: the caller gets a request id, the log gets the traceback with it.
Malformed requests (not JSON, wrong shape) are HTTP 4xx with ``{"code", "message"}``, and
so are unknown routes and methods under ``/api/`` (pages elsewhere keep plain text).

A call the database could not take (it is down or unreachable: ``StoreConnectionError``)
is HTTP 503 in that same shape with the code ``StoreUnavailable``; on the sync socket it
fails with ``errorData`` ``{"code": "StoreUnavailable", "message"}``, which Convex's clients
raise as a ConvexError a caller can tell apart and retry.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from smalltown.runtime import ConvexError, FunctionError, wire
from smalltown.runtime.subscriptions import Result
from smalltown.server.ratelimit import RateLimitExceeded
from smalltown.store import StoreConnectionError, StoreError

log = logging.getLogger("smalltown.server")
STORE_UNAVAILABLE = "StoreUnavailable"
RETRY_AFTER_SECONDS = 1  # what a 503 for an unavailable store suggests waiting


class BadRequest(Exception):
    """A request that is malformed before any function runs."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def request_id() -> str:
    return secrets.token_hex(8)


def to_result(exc: BaseException) -> Result:
    """The client-visible form of an exception raised while running a function."""
    if isinstance(exc, ConvexError):
        try:
            data = wire.encode(exc.data)
        except wire.WireFormatError:
            data = str(exc.data)
        return Result(error=str(exc), error_data=data, has_error_data=True)
    if isinstance(exc, StoreConnectionError):
        data = {"code": STORE_UNAVAILABLE, "message": str(exc)}
        return Result(error=str(exc), error_data=data, has_error_data=True)
    if isinstance(exc, (FunctionError, StoreError)):
        return Result(error=str(exc))
    if isinstance(exc, wire.WireFormatError):
        return Result(error=f"invalid arguments: {exc}")
    if isinstance(exc, RateLimitExceeded):
        return Result(error=str(exc))
    rid = request_id()
    log.error("request %s failed", rid, exc_info=exc)
    return Result(error=f"[Request ID: {rid}] Server Error")


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(wire.dumps(body), status, headers=headers, media_type="application/json")


def bad_request_response(exc: BadRequest) -> Response:
    return json_response({"code": exc.code, "message": str(exc)}, exc.status)


def unavailable_response(exc: StoreConnectionError) -> Response:
    """HTTP 503 for a call the database could not take, in the API's error shape."""
    return json_response(
        {"code": STORE_UNAVAILABLE, "message": str(exc)},
        503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


_ROUTE_CODES = {404: "NotFound", 405: "MethodNotAllowed"}


async def http_error_response(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, method not allowed): the API's JSON shape
    under ``/api/``, Starlette's plain text for pages."""
    assert isinstance(exc, HTTPException)
    path: str = request.scope.get("path", "")
    if not path.startswith("/api/"):
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
    shown = path if len(path) <= 200 else path[:200] + "…"
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {shown}"
    elif exc.status_code == 404:
        message = f"no API route for {request.method} {shown}"
    else:
        message = exc.detail
    code = _ROUTE_CODES.get(exc.status_code, "BadRequest")
    return json_response({"code": code, "message": message}, exc.status_code, exc.headers)
