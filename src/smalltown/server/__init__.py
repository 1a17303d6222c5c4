"""The ASGI app: health, Convex's HTTP API and sync WebSocket, over the runtime."""

from smalltown.server.app import ServerSettings, create_app, load_app

__all__ = ["ServerSettings", "create_app", "load_app"]
