"""A conversation of three on the page: a second person walks up and joins, and each page
shows every participant and every line."""

import math
from collections.abc import Callable

import pytest
from test_page import (
    REPLY,
    Places,
    browser,  # noqa: F401 (the fixture)
    join,
    meet,
    open_town,
    refusal,
    save_artifact,
    use_llm,
    walk_up_to,
)

from fake_llm import FakeLLM
from smalltown.engine.constants import JOIN_DISTANCE
from smalltown.server import create_app
from smalltown.town.defaults import town_map

from helpers import RunningServer

FREE = town_map().free_tiles()


def beside(walker: str, member: str) -> Callable[[Places], tuple[int, int]]:
    """Picks the free tile nearest ``walker`` that is 1.5 to 2.3 tiles from ``member`` (within
    reach to join, with room to stand) and that nobody stands on."""

    def pick(now: Places) -> tuple[int, int]:
        centre, me = now[member], now[walker]
        others = [at for who, at in now.items() if who != walker]
        tiles = [
            (x, y)
            for x, y in FREE
            if 1.5 <= math.hypot(x - centre["x"], y - centre["y"]) <= 2.3
            and all(math.hypot(x - at["x"], y - at["y"]) >= 1 for at in others)
        ]
        assert tiles, f"no free tile beside {member}: {now}"
        return min(tiles, key=lambda t: math.hypot(t[0] - me["x"], t[1] - me["y"]))

    return pick


def within_reach(walker: str, group: list[str]) -> Callable[[Places], bool]:
    """Whether ``walker`` stands near enough to a member of ``group`` to join them."""

    def near(now: Places) -> bool:
        me = now[walker]
        return any(
            math.hypot(me["x"] - now[m]["x"], me["y"] - now[m]["y"]) < JOIN_DISTANCE for m in group
        )

    return near


async def join_talk(page, member: str, tries: int = 4) -> None:
    """Join ``member``'s conversation from the details panel. A resident passing by may
    invite the joiner meanwhile: the button is gone while that invitation stands, and a
    join it overtook is refused (the page says why); the joiner declines it, and joins."""
    for _ in range(tries):
        await page.evaluate("(id) => window.smalltown.select(id)", member)
        await page.click("#join-conversation")
        await page.wait_for_function(
            """() => !document.getElementById('say').hidden
                || [...document.querySelectorAll('.banner-error')]
                    .some((b) => b.textContent.startsWith('joinConversation:'))""",
            timeout=60_000,
        )
        refused = await refusal(page, "joinConversation")
        if refused is None:
            return
        assert refused.endswith("is already in a conversation"), refused
        if not await page.is_hidden("#reject"):
            await page.click("#reject")
    raise AssertionError(f"every one of {tries} joins was refused")


@pytest.mark.timeout(240)
async def test_a_second_person_joins_a_talk_and_both_pages_show_all_three(
    tmp_path,
    browser,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "5")  # a person waits a minute idle
    fake = FakeLLM()
    fake.default_reply = REPLY
    async with RunningServer(fake.app) as llm:
        use_llm(monkeypatch, llm.url)
        app = create_app(f"sqlite:///{tmp_path}/group.db", "smalltown.town")
        async with RunningServer(app) as server:
            first, second = await browser.new_context(), await browser.new_context()
            page_a, errors_a = await open_town(browser, server.url + "/", first)
            page_b, errors_b = await open_town(browser, server.url + "/", second)
            ada = await join(page_a, "Ada", "f1")
            bo = await join(page_b, "Bo", "f4")
            resident = await meet(page_a)
            name = await page_a.evaluate(
                """(id) => window.smalltown.descriptions.playerDescriptions
                    .find((d) => d.playerId === id).name""",
                resident,
            )
            # Bo walks up to them, to a free tile two or so away, then joins from the
            # details panel.
            near = within_reach(bo, [resident, ada])
            await walk_up_to(page_b, server.url, bo, beside(bo, resident), near)
            await join_talk(page_b, resident)
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
