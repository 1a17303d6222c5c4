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


@pytest.mark.timeout(120)
async def test_a_person_joins_from_the_page_walks_and_a_reload_resumes(
    tmp_path, browser, monkeypatch
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "5")
    app = create_app(f"sqlite:///{tmp_path}/play.db", "smalltown.town")
    async with RunningServer(app) as server:
        page = await browser.new_page()
        await page.goto(server.url + "/")
        await page.wait_for_function(
            "window.smalltown && window.smalltown.drawnPlayers >= 5", timeout=30_000
        )
        await page.fill("#name", "Ada")
        await page.select_option("#character", "f3")
        await page.click("#join button")
        await page.wait_for_function("window.smalltown.me !== null", timeout=30_000)
        await page.wait_for_function(
            "document.getElementById('me-name').textContent === 'Ada'", timeout=30_000
        )
        me = await page.evaluate("window.smalltown.me")

        # Click the crossroads (tile 23, 15) on the canvas: the player walks there.
        box = await page.evaluate("""() => {
            const c = document.getElementById('map'), r = c.getBoundingClientRect();
            return {left: r.left, top: r.top, sx: r.width / c.width, sy: r.height / c.height};
        }""")
        x = box["left"] + (23 * 32 + 16) * box["sx"]
        y = box["top"] + (15 * 32 + 16) * box["sy"]
        await page.mouse.click(x, y)
        await page.wait_for_function(
            """(me) => {
                const p = window.smalltown.world.players.find((q) => q.id === me);
                return p && Math.hypot(p.position.x - 23, p.position.y - 15) < 1.5;
            }""",
            arg=me,
            timeout=60_000,
        )
        # Pick a resident and invite them: a conversation with me begins.
        resident = await page.evaluate("window.smalltown.world.agents[0].playerId")
        await page.evaluate("(id) => window.smalltown.select(id)", resident)
        await page.click("#invite")
        await page.wait_for_function(
            """(me) => window.smalltown.world.conversations.some(
                (c) => c.participants.some((p) => p.playerId === me))""",
            arg=me,
            timeout=30_000,
        )
        # A reload keeps the token: the same player, not a new one.
        await page.reload()
        await page.wait_for_function(
            "window.smalltown && window.smalltown.me !== null", timeout=30_000
        )
        assert await page.evaluate("window.smalltown.me") == me
        humans = await page.evaluate("window.smalltown.world.players.filter((p) => p.human).length")
        assert humans == 1


@pytest.mark.timeout(180)
async def test_a_person_talks_with_a_resident_from_the_page(tmp_path, browser, monkeypatch):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(f"sqlite:///{tmp_path}/talk.db", "smalltown.town")
    async with RunningServer(app) as server:
        page = await browser.new_page()
        await page.goto(server.url + "/")
        await page.wait_for_function(
            "window.smalltown && window.smalltown.drawnPlayers >= 5", timeout=30_000
        )
        await page.fill("#name", "Ada")
        await page.click("#join button")
        await page.wait_for_function("window.smalltown.me !== null", timeout=30_000)
        resident = await page.evaluate("window.smalltown.world.agents[0].playerId")
        await page.evaluate("(id) => window.smalltown.select(id)", resident)
        await page.click("#invite")
        await page.wait_for_selector("#say:not([hidden])", timeout=90_000)  # they met
        await page.fill("#message", "Good morning! How is the bread today?")
        await page.click("#say button")
        await page.wait_for_function(
            """() => {
                const lines = [...document.querySelectorAll('#transcript li')];
                return lines.length >= 2
                    && lines[0].textContent === 'Ada: Good morning! How is the bread today?';
            }""",
            timeout=60_000,
        )
        await page.click("#goodbye")
        await page.wait_for_selector("#talk[hidden]", state="attached", timeout=30_000)
