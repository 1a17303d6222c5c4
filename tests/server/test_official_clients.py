"""The official `convex` npm clients (HTTP and WebSocket) against a real smalltown server.

``make test`` installs them into tests/js (npm ci); the script prints a line per step.
"""

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from smalltown.server import create_app

from conftest import require_service
from helpers import RunningServer

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.mark.timeout(120)
async def test_official_clients_talk_to_smalltown(tmp_path):
    node = shutil.which("node")
    if node is None:
        require_service("Node.js", "node is not on PATH")
    if not (JS / "node_modules" / "convex").exists():
        require_service("the convex npm package", f"run `npm ci` in {JS}")
    app = create_app(f"sqlite:///{tmp_path}/clients.db", "example_app")
    async with RunningServer(app) as server:
        proc = await asyncio.create_subprocess_exec(
            node,
            str(JS / "official_clients.mjs"),
            server.url,
            cwd=JS,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(proc.communicate(), 90)
    lines = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    text = output.decode()
    assert proc.returncode == 0, text
    steps = [line["step"] for line in lines if line.get("ok")]
    assert steps == [
        "http query and mutation",
        "http ConvexError carries data",
        "websocket subscription delivers the current value",
        "websocket subscription sees another client's mutation",
        "websocket mutation promise resolves and its write arrives",
        "websocket one-shot query and action",
        "websocket ConvexError carries data",
    ], text
