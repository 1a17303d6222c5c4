"""Convex's HTTP API: ``/api/query``, ``/api/mutation``, ``/api/action``, ``/api/function``
and ``/api/run/<dir>/<fn>``.

A function's own failure is HTTP 200 with ``{"status": "error", ...}``, as Convex replies;
a malformed request is a 4xx with ``{"code", "message"}``, and a call the database could
not take (down, unreachable) a 503 with the code ``StoreUnavailable``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from smalltown.runtime import Runtime, UnauthorizedError, wire
from smalltown.server import json_input
from smalltown.server.errors import (
    BadRequest,
    bad_request_response,
    json_response,
    to_result,
    unavailable_response,
)
from smalltown.server.ratelimit import RateLimitExceeded
from smalltown.store import StoreConnectionError

MAX_BODY_BYTES = 8 << 20


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The body, parsed within bounds (size, nesting, valid text), or BadRequest."""
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BadRequest("PayloadTooLarge", f"the body is larger than {limit} bytes", 413)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise BadRequest("PayloadTooLarge", f"the body is larger than {limit} bytes", 413)
    except ClientDisconnect:  # nobody is left to read the answer, but it must not be a 500
        raise BadRequest("ClientDisconnected", "the client left before the body ended") from None
    try:
        return json_input.loads(body)
    except json_input.BadJson as exc:
        raise BadRequest("BadJsonBody", f"the body {exc}") from None


def unwrap_args(raw: Any) -> dict[str, Any]:
    """Clients send ``args`` bare (Python) or as a one-element array (JavaScript)."""
    if raw is None:
        return {}
    if isinstance(raw, list):
        if len(raw) > 1:
            raise BadRequest("BadArgs", "args must be one object (or a list holding one)")
        raw = raw[0] if raw else {}
    if not isinstance(raw, dict):
        raise BadRequest("BadArgs", f"args must be an object, got {type(raw).__name__}")
    try:
        args = wire.decode(raw)
    except wire.WireFormatError as exc:
        raise BadRequest("BadConvexValue", str(exc)) from None
    if not isinstance(args, dict):  # {"$integer": ...} and its kin decode to a scalar
        raise BadRequest("BadArgs", f"args must be an object, got {type(args).__name__}")
    return args


def _endpoint(kind: str | None):
    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        try:
            body = await read_json(request, request.app.state.settings.max_body_bytes)
            if not isinstance(body, dict):
                raise BadRequest("BadJsonBody", "the body must be a JSON object")
            if "path" in request.path_params:
                module, _, name = request.path_params["path"].rpartition("/")
                path = f"{module}:{name}" if module else name
            else:
                path = body.get("path")
                if not isinstance(path, str) or not path:
                    raise BadRequest("MissingPath", "the body needs a function 'path'")
            fmt = body.get("format", "json")
            if fmt not in ("json", "convex_encoded_json"):
                raise BadRequest("BadFormat", "format must be 'json' or 'convex_encoded_json'")
            args = unwrap_args(body.get("args"))
            identity = runtime.auth.from_header(request.headers.get("authorization"))
            address = request.client.host if request.client else None
            request.app.state.limiter.check(identity, address)
        except BadRequest as exc:
            return bad_request_response(exc)
        except UnauthorizedError as exc:
            return json_response({"code": "Unauthenticated", "message": str(exc)}, 401)
        except RateLimitExceeded as exc:
            return json_response(
                {"code": "RateLimited", "message": str(exc)},
                429,
                headers={"Retry-After": exc.retry_after_header},
            )
        try:
            if kind == "query":
                value = (await runtime.query(path, args, identity)).value
            elif kind == "mutation":
                value = (await runtime.mutation(path, args, identity)).value
            elif kind == "action":
                value = await runtime.action(path, args, identity)
            else:
                value = await runtime.call(path, args, identity)
            encoded = (
                wire.encode(value) if fmt == "convex_encoded_json" else wire.encode_clean(value)
            )
        except StoreConnectionError as exc:
            return unavailable_response(exc)
        except Exception as exc:
            result = to_result(exc)
            reply: dict[str, Any] = {
                "status": "error",
                "errorMessage": result.error,
                "logLines": [],
            }
            if result.has_error_data:
                reply["errorData"] = result.error_data
            return json_response(reply)
        return json_response({"status": "success", "value": encoded, "logLines": []})

    return endpoint


async def no_such_route(request: Request) -> Response:
    """Any other path under ``/api/``: a 404 in the API's shape, whatever the method."""
    path = request.scope["path"]
    shown = path if len(path) <= 200 else path[:200] + "…"
    return bad_request_response(
        BadRequest("NotFound", f"no API route for {request.method} {shown}", 404)
    )


_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

routes = [
    Route("/api/query", _endpoint("query"), methods=["POST"]),
    Route("/api/mutation", _endpoint("mutation"), methods=["POST"]),
    Route("/api/action", _endpoint("action"), methods=["POST"]),
    Route("/api/function", _endpoint(None), methods=["POST"]),
    Route("/api/run/{path:path}", _endpoint(None), methods=["POST"]),
]
#: Last among the routes: what no route above took stays out of the static pages.
not_found_route = Route("/api/{rest:path}", no_such_route, methods=_ANY_METHOD)
