"""The ASGI app: HTTP and (later) the sync WebSocket, over the runtime."""

from smalltown.server.app import create_app

__all__ = ["create_app"]
