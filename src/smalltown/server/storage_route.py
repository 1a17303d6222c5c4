"""``GET /api/storage/<id>``: a stored file's bytes, as a snapshot import brought them in.

Streams the file a chunk at a time (see ``smalltown.store.files``) with its content
type, readable from any origin (CORS); an unknown or malformed id is a 404 with
``{"code": "StorageFileNotFound", ...}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from smalltown.server.errors import BadRequest, bad_request_response, unavailable_response
from smalltown.store import StoreConnectionError, StoreError, files


async def storage_file(request: Request) -> Response:
    storage_id = request.path_params["storage_id"]
    store = request.app.state.store
    try:
        meta = await files.metadata(store, storage_id)
    except StoreConnectionError as exc:
        return unavailable_response(exc)
    except StoreError:  # malformed, or an id of another table
        meta = None
    if meta is None:
        return bad_request_response(
            BadRequest("StorageFileNotFound", f"no stored file with id {storage_id!r}", 404)
        )
    # A stored file is public to whoever holds its id, as a Convex storage URL is; a page
    # on another origin (AI Town's, drawing an imported map) reads it into a canvas.
    headers = {"Access-Control-Allow-Origin": "*"}
    if isinstance(meta.get("size"), int):
        headers["Content-Length"] = str(meta["size"])
    return StreamingResponse(
        files.read_chunks(store, storage_id),
        media_type=meta.get("contentType") or "application/octet-stream",
        headers=headers,
    )


routes = [Route("/api/storage/{storage_id}", storage_file, methods=["GET"])]
