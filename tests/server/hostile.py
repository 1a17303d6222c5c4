"""What the hostile-input tests share: the server's log, recorded; bare sync clients (one
that can stop reading); and a server in a thread for synchronous (Hypothesis) tests.

A server under attack must answer every bad request with a typed error and every bad
frame with a FatalError and a close, never with a traceback; these helpers let a test
say so by reading the server's own log and the frames that come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
import websockets
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from helpers import free_port

#: Loggers whose records show a failure on the server's side: ours, uvicorn's (where an
#: exception escaping the app lands as "Exception in ASGI application") and asyncio's
#: (a task's exception never retrieved).
SERVER_LOGGERS = ("smalltown", "uvicorn.error", "asyncio")


class LogRecorder(logging.Handler):
    """Every record of the server's loggers, kept for the test to read."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def failures(self) -> list[str]:
        """Records that mean the server failed: errors, and anything with a traceback."""
        return [
            f"{r.name}: {r.getMessage()}"
            for r in self.records
            if r.levelno >= logging.ERROR or r.exc_info
        ]


@contextlib.contextmanager
def recorded_server_log() -> Iterator[LogRecorder]:
    """Record the server's loggers for the block's duration. Enter it after the server's
    uvicorn config is made: configuring uvicorn's logging removes handlers."""
    recorder = LogRecorder()
    loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(recorder)
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield recorder
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(recorder)
            logger.setLevel(level)


def connect_frame(session: str = "s") -> str:
    return json.dumps(
        {
            "type": "Connect",
            "sessionId": session,
            "connectionCount": 0,
            "lastCloseReason": "InitialConnect",
            "clientTs": 0,
        }
    )


async def open_sync(ws_url: str, session: str = "s") -> websockets.ClientConnection:
    ws = await websockets.connect(ws_url + "/api/sync", max_size=None)
    await ws.send(connect_frame(session))
    return ws


async def next_message(ws, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:
    """The next message (of ``kind``, if given), Pings skipped."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == "Ping" and kind != "Ping":
            continue
        if kind is None or message["type"] == kind:
            return message


async def expect_fatal_and_close(ws, timeout: float = 10) -> dict[str, Any]:
    """Read until the FatalError; then the server must close the socket. Returns the
    FatalError; fails if the socket closes without one."""
    try:
        fatal = await next_message(ws, "FatalError", timeout)
    except websockets.ConnectionClosed as exc:
        raise AssertionError(f"the socket closed without a FatalError ({exc})") from None
    assert isinstance(fatal.get("error"), str) and fatal["error"]
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            assert message["type"] == "Ping", f"{message} after the FatalError"
    return fatal


class StalledClient(asyncio.Protocol):
    """A sync client on a raw socket that can stop reading, with a tiny receive buffer,
    so what the server sends it backs up on the server's side at once; every frame it
    did read is kept in order, and ``closed`` resolves when the connection ends."""

    def __init__(self, url: str) -> None:
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.frames: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()
        self.closed = loop.create_future()

    @classmethod
    async def connect(cls, host: str, port: int, path: str = "/api/sync") -> StalledClient:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, port))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(
            lambda: cls(f"ws://{host}:{port}{path}"), sock=sock
        )
        await asyncio.wait_for(client.opened, 10)
        return client

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if not hasattr(event, "opcode"):
                self.opened.set_result(None)
            elif event.opcode.name == "TEXT":
                self.frames.append(json.loads(event.data))
                self.arrived.set()
        self._flush()

    def eof_received(self) -> None:
        self.protocol.receive_eof()

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        self.protocol.send_text(text.encode())
        self._flush()

    def _flush(self) -> None:
        data = self.protocol.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(b"".join(data))


class ServerThread:
    """A uvicorn server for ``app`` in a thread with its own event loop, so that plain
    synchronous tests (Hypothesis drives those best) can call it with blocking clients."""

    def __init__(self, app) -> None:
        self.app = app
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, name="fuzzed-server")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start in 30 s"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
