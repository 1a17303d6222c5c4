"""The town page in a real headless Chromium, against a real server."""

import shutil

import pytest

from smalltown.server import create_app

from conftest import require_service
from helpers import RunningServer

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser():
    if not shutil.which("chromium"):
        require_service("Chromium", "run scripts/install-chromium.sh (as root)")
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        require_service("Playwright", str(exc))
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        await browser.close()


@pytest.mark.timeout(120)
async def test_the_page_draws_the_town_and_says_what_speaks(tmp_path, browser, monkeypatch):
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(f"sqlite:///{tmp_path}/page.db", "smalltown.town")
    async with RunningServer(app) as server:
        page = await browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(server.url + "/")
        # Five residents on the map, drawn from the live world.
        await page.wait_for_function(
            "window.smalltown && window.smalltown.connected && window.smalltown.drawnPlayers >= 5",
            timeout=30_000,
        )
        banner = await page.text_content("#banners")
        assert "offline brain" in banner and "OPENAI_API_KEY" in banner
        # The canvas holds a picture, not a blank: many distinct colours.
        colours = await page.evaluate("""() => {
            const c = document.getElementById('map');
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            for (let i = 0; i < data.length; i += 997) {
                seen.add(data[i] << 16 | data[i + 1] << 8 | data[i + 2]);
            }
            return seen.size;
        }""")
        assert colours > 20
        assert (await page.text_content("#connection")) == "live"
        assert errors == []
        await page.screenshot(path=str(tmp_path / "town.png"))
