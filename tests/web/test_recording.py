"""Three minutes of the town as ``make run`` starts it, watched in headless Chromium.

``smalltown run`` runs in a child process with a data folder of its own and no LLM (the
offline brain), its time sped up so three minutes of the town pass in about a minute.
Every 20 s of the world's game time (its engine clock, asked over HTTP) the page is
photographed into ``$SMALLTOWN_TEST_ARTIFACTS/recording/`` (``test-artifacts/`` unless
set), and each frame is checked for what can be checked: a picture drawn, every resident
on it with a name, no label over another, and over the run conversations in the panel.
Talk comes in spells (a walk to meet, a few lines, a rest), which frames 20 s apart may
fall between, so the recording goes on past three minutes, up to eight, until three
frames showed talk. What the frames showed wrong has a test of its own here (a talk
before its first line).
"""

import os
import subprocess
import sys

import httpx
import pytest
from test_page import (
    LLM_VARIABLES,
    NO_OVERLAP,
    browser,  # noqa: F401  (the fixture)
    open_town,
    save_artifact,
)

from smalltown.server import create_app

from helpers import RunningServer, eventually, free_port, wait_healthy

TOWN_MINUTES = 3
MAX_TOWN_MINUTES = 8  # when three minutes showed too little talk
FRAME_GAME_MS = 20_000
TALKING_FRAMES = 3
DISTINCT_LINES = 6
TIME_SCALE = "3"

DRAWN = """() => {
    const c = document.getElementById('map');
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 997) {
        seen.add(data[i] << 16 | data[i + 1] << 8 | data[i + 2]);
    }
    return seen.size;
}"""

# Each resident where the canvas shows them, and the name labels drawn. The fitted town
# fills the canvas, so a strip along two of its edges is cut off (panning shows it): a
# resident there is "cropped", one anywhere else off the canvas is "off".
ON_SCREEN = """() => {
    const s = window.smalltown, box = document.getElementById('map').getBoundingClientRect();
    const c = s.camera, view = c.viewSize(), tile = 32;
    const shown = {x0: c.x / tile, y0: c.y / tile,
                   x1: (c.x + view.width / c.scale) / tile,
                   y1: (c.y + view.height / c.scale) / tile};
    const off = [], cropped = [], covered = [];
    // (a name reaches this far from its person's point: one by the zoom buttons may find
    // no place that covers neither them nor the map's edge)
    const reach = 40;
    for (const p of s.world.players) {
        const at = s.positionOf(p.id);
        const point = s.tileToClient(at.x, at.y);
        if (point.x >= box.left && point.x <= box.right
            && point.y >= box.top && point.y <= box.bottom) {
            const x = point.x - box.left, y = point.y - box.top;
            if (s.debug.controls.some((r) => x > r.x - reach && x < r.x + r.w + reach
                                        && y > r.y - reach && y < r.y + r.h + reach)) {
                covered.push(p.id);
            }
            continue;
        }
        const inStrip = at.x + 0.5 < shown.x0 || at.x + 0.5 > shown.x1
            || at.y + 0.5 < shown.y0 || at.y + 0.5 > shown.y1;
        const inMap = at.x >= 0 && at.y >= 0 && at.x < c.world.width / tile
            && at.y < c.world.height / tile;
        (inStrip && inMap ? cropped : off).push(p.id);
    }
    const names = s.debug.labels.filter((l) => l.kind === 'name').length;
    return {players: s.world.players.length, off, cropped, covered, names};
}"""

# A viewer follows talk: when someone is talking and what is shown is not a talk with
# lines, the page selects a talker, so the panel shows that conversation's lines.
FOLLOW_TALK = """() => {
    const s = window.smalltown;
    const spoken = s.world.conversations.filter((c) => (s.transcripts.get(c.id) || []).length);
    const shown = spoken.some((c) => c.participants.some((p) => p.playerId === s.selected));
    if (spoken.length && !shown) s.select(spoken[0].participants[0].playerId);
    return spoken.length;
}"""

# At a frame, the page follows talk until the panel shows lines, or nobody has spoken any
# (the talk ended meanwhile).
TALK_SHOWN = f"""() => ({FOLLOW_TALK})() === 0
    || document.querySelectorAll('#current-conversation li').length > 0"""

# The panel's lines as the next frame drawn shows them.
PANEL_LINES = """() => new Promise((done) => requestAnimationFrame(() => done(
    [...document.querySelectorAll('#current-conversation li')].map((li) => li.textContent))))"""

# A conversation in the panel shows its lines, or says why there are none: never an empty box.
PANEL_EMPTY = """() => { const box = document.getElementById('current-conversation');
    return box !== null && !box.querySelector('li') && !box.querySelector('.hint'); }"""


def start_town(data, port: int) -> subprocess.Popen:
    """``smalltown run`` as ``make run`` starts it, in ``data`` (its ./data goes there)."""
    env = {k: v for k, v in os.environ.items() if k not in LLM_VARIABLES}
    env = {k: v for k, v in env.items() if not k.startswith("SMALLTOWN_")}
    env |= {"SMALLTOWN_TIME_SCALE": TIME_SCALE, "SMALLTOWN_PORT": str(port)}
    log = open(data / "server.log", "wb")  # noqa: SIM115 (the child writes it)
    return subprocess.Popen(
        [sys.executable, "-m", "smalltown.cli", "run"],
        cwd=data,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def enough_talk(shown: dict[int, list[str]]) -> bool:
    """Whether the frames so far showed talk: lines in the panel in three of them, six
    different lines in all."""
    talking = [frame for frame, lines in shown.items() if lines]
    distinct = {line for lines in shown.values() for line in lines}
    return len(talking) >= TALKING_FRAMES and len(distinct) >= DISTINCT_LINES


async def game_time(http: httpx.AsyncClient, world_id: str) -> float:
    reply = await http.post(
        "/api/query", json={"path": "world:worldClock", "args": {"worldId": world_id}}
    )
    return reply.json()["value"]["currentTime"]


@pytest.mark.timeout(360)
async def test_three_minutes_of_the_town_are_recorded_frame_by_frame(tmp_path, browser):  # noqa: F811
    port = free_port()
    proc = start_town(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log=tmp_path / "server.log")
        assert (tmp_path / "data" / "smalltown.db").is_file()  # the default data folder
        page, errors = await open_town(browser, url + "/")
        await page.set_viewport_size({"width": 1360, "height": 820})
        world_id = await page.evaluate("window.smalltown.status.worldId")
        shown: dict[int, list[str]] = {}
        async with httpx.AsyncClient(base_url=url) as http:
            start = await game_time(http, world_id)
            for frame in range(MAX_TOWN_MINUTES * 60_000 // FRAME_GAME_MS + 1):
                due = start + frame * FRAME_GAME_MS
                if due - start > TOWN_MINUTES * 60_000 and enough_talk(shown):
                    break

                async def reached(due: float = due) -> bool:
                    return await game_time(http, world_id) >= due

                await eventually(reached, f"game time {due - start:.0f} ms", timeout=30)
                await page.wait_for_function(TALK_SHOWN, timeout=30_000)
                shown[frame] = await page.evaluate(PANEL_LINES)
                await page.screenshot(path=save_artifact(f"recording/frame-{frame:02d}.png"))
                assert await page.evaluate(DRAWN) > 20, f"frame {frame} is blank"
                seen = await page.evaluate(ON_SCREEN)
                assert seen["players"] >= 5 and seen["off"] == [], f"frame {frame}: {seen}"
                # (two may stand in the cut strip at once, as where new people arrive)
                assert len(seen["cropped"]) <= 2, f"frame {frame}: {seen}"
                assert len(seen["covered"]) <= 2, f"frame {frame}: {seen}"
                unnamed_may_be = len(seen["cropped"]) + len(seen["covered"])
                assert seen["names"] >= seen["players"] - unnamed_may_be, seen
                assert await page.evaluate(NO_OVERLAP) == [], f"frame {frame}"
                assert not await page.evaluate(PANEL_EMPTY), f"frame {frame}"
        # Over the run the residents talk, and the panel shows their lines.
        assert enough_talk(shown), shown
        assert (await page.text_content("#connection")) == "live"
        assert errors == []
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.timeout(120)
async def test_a_conversation_before_its_first_line_says_so_in_the_panel(
    tmp_path,
    browser,  # noqa: F811
    monkeypatch,
):
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    app = create_app(f"sqlite:///{tmp_path}/quiet.db", "smalltown.town")
    async with RunningServer(app) as server:
        page, errors = await open_town(browser, server.url + "/")
        # Two residents set off to meet: select one before a word is said, and read the panel.
        shown = await page.wait_for_function(
            """() => { const s = window.smalltown;
                const quiet = s.world.conversations.find(
                    (c) => !(s.transcripts.get(c.id) || []).length);
                if (!quiet) return null;
                s.select(quiet.participants[0].playerId);
                const box = document.getElementById('current-conversation');
                return box && box.textContent; }""",
            timeout=90_000,
        )
        text = await shown.json_value()
        assert "Talking with" in text and ("Nothing said yet." in text or "…" in text), text
        assert errors == []
