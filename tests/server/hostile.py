"""What the hostile-input tests share: the server's log, recorded, and a bare sync client.

A server under attack must answer every bad request with a typed error and every bad
frame with a FatalError and a close, never with a traceback; these helpers let a test
say so by reading the server's own log and the frames that come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import websockets

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
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
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
