#!/usr/bin/env python3
"""Take docs/screenshot.png: the default town, running, with a conversation under way.

Run from the repository root with the test dependencies installed (Playwright and Debian's
Chromium, see scripts/install-chromium.sh): .venv/bin/python scripts/screenshot.py
It starts smalltown in-process on a scratch database, time running 10 times as fast, waits
until two residents are talking, selects one and takes the picture.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main() -> int:
    from playwright.async_api import async_playwright

    from smalltown.server import create_app

    os.environ["SMALLTOWN_TIME_SCALE"] = "10"
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory() as folder:
        port = _free_port()
        app = create_app(f"sqlite:///{folder}/town.db", "smalltown.town")
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox"]
                )
                page = await browser.new_page(viewport={"width": 1360, "height": 820})
                await page.goto(f"http://127.0.0.1:{port}/")
                talking = """() => {
                    const s = window.smalltown;
                    return s.world && [...s.transcripts.values()].some((m) => m.length >= 2);
                }"""
                await page.wait_for_function(talking, timeout=180_000)
                speaker = await page.evaluate("""() => {
                    const s = window.smalltown;
                    const [id] = [...s.transcripts].find(([, m]) => m.length >= 2);
                    const c = s.world.conversations.find((c) => c.id === id);
                    return c.participants[0].playerId;
                }""")
                await page.evaluate("(id) => window.smalltown.select(id)", speaker)
                await page.wait_for_timeout(1500)  # let the bubbles and panel settle
                await page.screenshot(path=str(OUT))
                await browser.close()
        finally:
            server.should_exit = True
            await task
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
