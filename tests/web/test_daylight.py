"""Day and night on the page follow the world's game clock; a resized window keeps the
town filling the canvas."""

import pytest
from test_page import (  # noqa: F401  (the fixtures)
    browser,
    offline,
    open_town,
    save_artifact,
    start_clock_at,
)

from smalltown.server import create_app
from smalltown.town.defaults import CHARACTERS, town_map
from smalltown.town.schema import open_town_store
from smalltown.worlds.admin import create

from helpers import RunningServer

DAY_MS = 24 * 3600_000

# The canvas's mean brightness (0 to 255), from a sample of its pixels.
BRIGHTNESS = """() => {
    const c = document.getElementById('map');
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0, n = 0;
    for (let i = 0; i < data.length; i += 4 * 61) {
        sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
        n += 1;
    }
    return sum / n;
}"""

# The colours of the first name label's text, where the label is drawn: white on the
# map by day, and still white at night.
NAME_WHITE = """() => {
    const name = window.smalltown.debug.labels.find((l) => l.kind === 'name');
    const c = document.getElementById('map'), ratio = window.devicePixelRatio || 1;
    const data = c.getContext('2d').getImageData(
        Math.round(name.x * ratio), Math.round(name.y * ratio),
        Math.round(name.w * ratio), Math.round(name.h * ratio)).data;
    let white = 0;
    for (let i = 0; i < data.length; i += 4) {
        if (data[i] > 235 && data[i + 1] > 235 && data[i + 2] > 235) white += 1;
    }
    return white;
}"""


async def world_at(store, hour: float) -> str:
    """A world whose game clock starts at ``hour`` UTC, tomorrow."""
    world_id = await create(store, town_map(), CHARACTERS)
    await start_clock_at(store, world_id, hour)
    return world_id


@pytest.mark.timeout(120)
async def test_noon_is_bright_and_midnight_dark_with_names_still_legible(
    tmp_path,
    browser,  # noqa: F811
    offline,  # noqa: F811
):
    url = f"sqlite:///{tmp_path}/daylight.db"
    store = await open_town_store(url)
    try:
        noon = await world_at(store, 12)
        midnight = await world_at(store, 0)
    finally:
        await store.close()
    app = create_app(url, "smalltown.town")
    async with RunningServer(app) as server:
        context = await browser.new_context(timezone_id="UTC")
        seen = {}
        for name, world in (("noon", noon), ("midnight", midnight)):
            page, errors = await open_town(browser, f"{server.url}/?world={world}", context)
            await page.wait_for_function(
                """(want) => { const light = window.smalltown.debug.light;
                    return light && light.phase === want
                        && window.smalltown.debug.labels.some((l) => l.kind === 'name'); }""",
                arg="day" if name == "noon" else "night",
                timeout=30_000,
            )
            hour = await page.evaluate("window.smalltown.debug.light.hour")
            seen[name] = {
                "hour": hour,
                "brightness": await page.evaluate(BRIGHTNESS),
                "white": await page.evaluate(NAME_WHITE),
            }
            await page.screenshot(path=save_artifact(f"daylight-{name}.png"))
            assert errors == []
            await page.close()
        assert 11.9 < seen["noon"]["hour"] < 12.5 and seen["midnight"]["hour"] < 0.5, seen
        # Night is much darker than day, but the names are drawn as white as by day.
        assert seen["midnight"]["brightness"] < 0.6 * seen["noon"]["brightness"], seen
        assert seen["midnight"]["white"] >= 0.5 * seen["noon"]["white"] > 0, seen
        await context.close()


@pytest.mark.timeout(60)
async def test_a_resized_window_keeps_the_town_filling_the_canvas(
    tmp_path,
    browser,  # noqa: F811
    offline,  # noqa: F811
):
    app = create_app(f"sqlite:///{tmp_path}/resize.db", "smalltown.town")
    async with RunningServer(app) as server:
        page, errors = await open_town(browser, server.url + "/")
        await page.set_viewport_size({"width": 1600, "height": 1000})
        fills = """() => { const c = window.smalltown.camera, v = c.viewSize();
            const w = v.width / c.scale, h = v.height / c.scale;
            return c.x >= 0 && c.y >= 0 && c.x + w <= c.world.width + 0.5
                && c.y + h <= c.world.height + 0.5; }"""
        await page.wait_for_function(fills, timeout=10_000)
        # Zoomed in by hand, a smaller window keeps the zoom (no refit), and no bars.
        await page.click("#zoom-in")
        scale = await page.evaluate("window.smalltown.camera.scale")
        width = await page.evaluate("window.smalltown.camera.canvas.width")
        await page.set_viewport_size({"width": 1000, "height": 700})
        await page.wait_for_function(
            "(w) => window.smalltown.camera.canvas.width !== w", arg=width, timeout=10_000
        )
        await page.wait_for_function(fills, timeout=10_000)
        assert await page.evaluate("window.smalltown.camera.scale") >= scale * 0.99
        assert errors == []
