"""A conversation of three on the page: a second person walks up and joins, and each page
shows every participant and every line."""

import pytest
from test_page import (
    REPLY,
    browser,  # noqa: F401 (the fixture)
    join,
    meet,
    open_town,
    save_artifact,
    use_llm,
    walk,
)

from fake_llm import FakeLLM
from smalltown.server import create_app
from smalltown.town.defaults import town_map

from helpers import RunningServer


@pytest.mark.timeout(240)
async def test_a_second_person_joins_a_talk_and_both_pages_show_all_three(
    tmp_path,
    browser,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    fake = FakeLLM()
    fake.default_reply = REPLY
    async with RunningServer(fake.app) as llm:
        use_llm(monkeypatch, llm.url)
        app = create_app(f"sqlite:///{tmp_path}/group.db", "smalltown.town")
        async with RunningServer(app) as server:
            first, second = await browser.new_context(), await browser.new_context()
            page_a, errors_a = await open_town(browser, server.url + "/", first)
            page_b, errors_b = await open_town(browser, server.url + "/", second)
            await join(page_a, "Ada", "f1")
            bo = await join(page_b, "Bo", "f4")
            resident = await meet(page_a)
            name = await page_a.evaluate(
                """(id) => window.smalltown.descriptions.playerDescriptions
                    .find((d) => d.playerId === id).name""",
                resident,
            )
            # Bo walks up to them (a tile or two away), then joins from the details panel.
            at = await page_b.evaluate("(id) => window.smalltown.positionOf(id)", resident)
            free = set(town_map().free_tiles())
            x, y = next(
                (round(at["x"]) + dx, round(at["y"]) + dy)
                for dx, dy in ((0, 2), (2, 0), (0, -2), (-2, 0), (1, 2), (2, 1), (-1, 2))
                if (round(at["x"]) + dx, round(at["y"]) + dy) in free
            )
            await walk(page_b, bo, x, y)
            # There, or beside it if someone took the tile meanwhile: still within reach.
            await page_b.wait_for_function(
                """([id, x, y]) => {
                    const at = window.smalltown.positionOf(id);
                    const me = window.smalltown.world.players.find((p) => p.id === id);
                    return at && Math.hypot(at.x - x, at.y - y) < 1.1 && !me.path;
                }""",
                arg=[bo, x, y],
                timeout=60_000,
            )
            await page_b.evaluate("(id) => window.smalltown.select(id)", resident)
            await page_b.click("#join-conversation")
            await page_b.wait_for_selector("#say:not([hidden])", timeout=60_000)
            # Each page names everyone else in the talk.
            await page_b.wait_for_function(
                "(name) => document.getElementById('talk-state').textContent.includes(name)"
                " && document.getElementById('talk-state').textContent.includes('Ada')",
                arg=name,
                timeout=30_000,
            )
            await page_a.wait_for_function(
                "(name) => document.getElementById('talk-state').textContent.includes(name)"
                " && document.getElementById('talk-state').textContent.includes('Bo')",
                arg=name,
                timeout=30_000,
            )
            await page_b.fill("#message", f"Hello both! {name}, is the rye ready?")
            await page_b.click("#say button")
            # Bo's line and the resident's answer reach Ada's page too.
            await page_a.wait_for_function(
                """(reply) => {
                    const lines = [...document.querySelectorAll('#transcript li')]
                        .map((l) => l.textContent);
                    const bo = lines.findIndex((l) => l.startsWith('Bo: Hello both!'));
                    return bo >= 0 && lines.slice(bo + 1).some((l) => l.endsWith(': ' + reply));
                }""",
                arg=REPLY,
                timeout=90_000,
            )
            await page_a.evaluate("(id) => window.smalltown.select(id)", resident)
            current = await page_a.text_content("#current-conversation")
            assert "Ada" in current and "Bo" in current
            await page_a.screenshot(path=save_artifact("group-ada.png"))
            await page_b.screenshot(path=save_artifact("group-bo.png"))
            assert errors_a == [] and errors_b == []
            await first.close()
            await second.close()
