"""The town page in a real headless Chromium, against a real server (and the fake LLM)."""

import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fake_llm import FakeLLM
from smalltown.engine.world_map import EMPTY, WorldMap
from smalltown.server import ServerSettings, create_app
from smalltown.town.defaults import CHARACTERS, many_characters, town_map
from smalltown.town.schema import open_town_store
from smalltown.worlds.admin import create

from conftest import require_service
from helpers import RunningServer, eventually

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
LLM_VARIABLES = ("OPENAI_API_KEY", "TOGETHER_API_KEY", "LLM_API_URL", "OLLAMA_HOST")
ARTIFACTS = Path(os.environ.get("SMALLTOWN_TEST_ARTIFACTS", "test-artifacts"))
REPLY = "Fresh rye, still warm. Take a slice for the road!"


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


@pytest.fixture
def offline(monkeypatch):
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def use_llm(monkeypatch, url: str) -> None:
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_API_URL", url + "/v1")
    monkeypatch.setenv("LLM_MODEL", "chatty")
    monkeypatch.setenv("LLM_EMBEDDING_MODEL", "embedder")


async def open_town(browser, url: str, context=None):
    page = await (context or browser).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url)
    await page.wait_for_function(
        "window.smalltown && window.smalltown.connected && window.smalltown.drawnPlayers >= 5",
        timeout=30_000,
    )
    return page, errors


async def join(page, name: str, character: str = "f3") -> str:
    await page.fill("#name", name)
    await page.select_option("#character", character)
    await page.click("#join button")
    await page.wait_for_function("window.smalltown.me !== null", timeout=30_000)
    await page.wait_for_function(
        "(name) => document.getElementById('me-name').textContent === name",
        arg=name,
        timeout=30_000,
    )
    return await page.evaluate("window.smalltown.me")


async def click_tile(page, x: int, y: int) -> None:
    point = await page.evaluate("([x, y]) => window.smalltown.tileToClient(x, y)", [x, y])
    await page.mouse.click(point["x"], point["y"])


async def walk(page, player: str, x: int, y: int, tries: int = 5) -> None:
    """Click tile (x, y) until the player sets off for it: a resident passing under the
    pointer at that moment takes the click (it selects them, as it should), so such a
    click is undone and made again."""
    for _ in range(tries):
        await page.evaluate("window.smalltown.select(null)")
        await click_tile(page, x, y)
        outcome = await page.wait_for_function(
            """([id, x, y]) => {
                const s = window.smalltown;
                if (s.selected) return "selected";
                const me = s.world && s.world.players.find((p) => p.id === id);
                const end = me && me.path ? me.path[me.path.length - 1] : null;
                if (end && Math.hypot(end[0] - x, end[1] - y) < 1.5) return "walking";
                const at = s.positionOf(id);
                return at && Math.hypot(at.x - x, at.y - y) < 1.5 ? "there" : null;
            }""",
            arg=[player, x, y],
            timeout=30_000,
        )
        if await outcome.json_value() != "selected":
            return
    raise AssertionError(f"every click on ({x}, {y}) landed on someone")


Places = dict[str, dict[str, float]]  # each player's place, by id


async def places(server_url: str, world_id: str, walking: str | None = None) -> Places | None:
    """Where the server has everyone now; None while ``walking`` walks."""
    async with httpx.AsyncClient(base_url=server_url) as http:
        reply = await http.post(
            "/api/query", json={"path": "world:worldState", "args": {"worldId": world_id}}
        )
    players = reply.json()["value"]["world"]["players"]
    if walking is not None and not any(p["id"] == walking for p in players):
        raise AssertionError(f"{walking} left the world while walking")
    if any(p["id"] == walking and "pathfinding" in p for p in players):
        return None
    return {p["id"]: p["position"] for p in players}


async def walk_up_to(
    page,
    server_url: str,
    player: str,
    pick: Callable[[Places], tuple[int, int]],
    near: Callable[[Places], bool],
    tries: int = 6,
) -> Places:
    """Walk ``player`` by clicks on the tile ``pick`` chooses (given where everyone is)
    until it stands still where ``near`` holds, and return where everyone is then. The
    engine gives a walk up after a minute of game time (a long one, or one that waited
    behind passers-by), and ends one beside its tile when someone stands there: such a
    walk goes on from where it ended. Where a walk ended only the server knows: a walker
    waiting for someone to pass shows no path on the page for a moment either."""
    world_id = await page.evaluate("window.smalltown.status.worldId")
    now = await places(server_url, world_id)
    for _ in range(tries):
        assert now is not None
        x, y = pick(now)
        await walk(page, player, x, y)
        now = await eventually(
            lambda: places(server_url, world_id, walking=player),
            f"{player}'s walk to ({x}, {y}) to end",
            timeout=90,
        )
        if near(now):
            return now
    raise AssertionError(f"{player} never got there in {tries} walks: {now}")


async def arrive(page, server_url: str, player: str, x: int, y: int, within: float = 1.5) -> None:
    """Walk ``player`` to tile (x, y), until it stands within ``within`` tiles of it."""

    def there(now: Places) -> bool:
        return math.hypot(now[player]["x"] - x, now[player]["y"] - y) < within

    free = set(town_map().free_tiles())
    around = [(x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    around = [tile for tile in around if tile in free] or [(x, y)]

    def pick(now: Places) -> tuple[int, int]:
        # the tile of those around (x, y) that nobody stands nearest: a resident standing
        # on the tile clicked would take every click (it selects them)
        others = [at for who, at in now.items() if who != player]
        return max(
            around,
            key=lambda t: (
                min((math.hypot(t[0] - o["x"], t[1] - o["y"]) for o in others), default=9.0),
                -math.hypot(t[0] - x, t[1] - y),
            ),
        )

    await walk_up_to(page, server_url, player, pick, there)


async def wait_near(page, player: str, x: float, y: float, timeout: float = 60_000) -> None:
    await page.wait_for_function(
        """([id, x, y]) => {
            const at = window.smalltown.positionOf(id);
            return at && Math.hypot(at.x - x, at.y - y) < 1.5;
        }""",
        arg=[player, x, y],
        timeout=timeout,
    )


# The resident nearest this browser's player who is in no conversation, as the page knows.
FREE_RESIDENT = """() => {
    const s = window.smalltown, me = s.positionOf(s.me);
    if (!me) return null;  // (our own place not known yet: the next look)
    const busy = new Set(s.world.conversations
        .flatMap((c) => c.participants.map((p) => p.playerId)));
    const free = s.world.agents.map((a) => a.playerId)
        .filter((id) => !busy.has(id) && s.positionOf(id));
    const away = (id) => {
        const at = s.positionOf(id);
        return Math.hypot(at.x - me.x, at.y - me.y);
    };
    return free.sort((a, b) => away(a) - away(b))[0] || null;
}"""

# Whether this browser's player is in a conversation (invited, walking over or talking).
IN_A_TALK = """() => window.smalltown.world.conversations.some(
    (c) => c.participants.some((p) => p.playerId === window.smalltown.me))"""


async def refusal(page, name: str) -> str | None:
    """The banner saying the engine refused an input ``name``, taken down once read."""
    return await page.evaluate(
        """(name) => {
            const banner = [...document.querySelectorAll('#banners .banner-error')]
                .find((b) => b.textContent.startsWith(name + ':'));
            if (banner) banner.remove();
            return banner ? banner.textContent : null;
        }""",
        name,
    )


async def invite(page, tries: int = 5) -> str:
    """Invite the nearest resident free to talk, from the details panel, until the
    invitation stands: one caught by someone else first has no button (then another is
    chosen), or is refused by the engine (and the page says why)."""
    for _ in range(tries):
        resident = await page.wait_for_function(FREE_RESIDENT, timeout=60_000)
        resident = await resident.json_value()
        await page.evaluate("(id) => window.smalltown.select(id)", resident)
        offered = await page.wait_for_function(
            """(id) => document.getElementById('invite') ? 'offered'
                : window.smalltown.world.conversations.some(
                    (c) => c.participants.some((p) => p.playerId === id)) ? 'busy' : null""",
            arg=resident,
            timeout=30_000,
        )
        if await offered.json_value() == "busy":
            continue
        await page.click("#invite")
        await page.wait_for_function(
            f"""() => ({IN_A_TALK})() || [...document.querySelectorAll('.banner-error')]
                .some((b) => b.textContent.startsWith('startConversation:'))""",
            timeout=30_000,
        )
        if await refusal(page, "startConversation") is None:
            return resident
    raise AssertionError(f"none of {tries} invitations stood")


async def meet(page, tries: int = 3) -> str:
    """Invite a resident and wait until we are talking. An invitation whose walk to meet
    takes longer than the engine's invite timeout ends (a far or crowded way on a slow
    machine): then another is sent."""
    for _ in range(tries):
        resident = await invite(page)
        outcome = await page.wait_for_function(
            f"""() => !document.getElementById('say').hidden ? 'talking'
                : !({IN_A_TALK})() ? 'over' : null""",
            timeout=90_000,
        )
        if await outcome.json_value() == "talking":
            return resident
    raise AssertionError(f"none of {tries} invitations became a talk")


async def click_an_empty_tile(page, refused: str, tries: int = 5) -> str:
    """Click a tile of the map's middle that nobody stands near, and return the page's
    banner saying why the engine refused the input ``refused`` the click sent. A resident
    passing under the pointer takes the click (it selects them): then it is made again."""
    middle = [(x, y) for x, y in town_map().free_tiles() if 8 <= x <= 40 and 6 <= y <= 26]
    for _ in range(tries):
        spots = await page.evaluate(
            "window.smalltown.world.players.map((p) => window.smalltown.positionOf(p.id))"
        )
        x, y = max(
            middle,
            key=lambda t: min(math.hypot(t[0] - at["x"], t[1] - at["y"]) for at in spots),
        )
        await page.evaluate("window.smalltown.select(null)")
        await click_tile(page, x, y)
        outcome = await page.wait_for_function(
            """(name) => window.smalltown.selected ? 'selected'
                : [...document.querySelectorAll('.banner-error')].some(
                    (b) => b.textContent.startsWith(name + ':'))""",
            arg=refused,
            timeout=30_000,
        )
        if await outcome.json_value() != "selected":
            return await refusal(page, refused)
    raise AssertionError(f"every click on an empty tile landed on someone ({tries})")


def save_artifact(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / name)


@pytest.mark.timeout(120)
async def test_the_page_draws_the_town_pans_zooms_and_moves(
    tmp_path, browser, offline, monkeypatch
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "5")  # residents set off after their first chore
    app = create_app(f"sqlite:///{tmp_path}/page.db", "smalltown.town")
    async with RunningServer(app) as server:
        page, errors = await open_town(browser, server.url + "/")
        banner = await page.text_content("#banners")
        assert "offline brain" in banner and "OPENAI_API_KEY" in banner
        # The page says what speaks and what remembers, as /health does.
        async with httpx.AsyncClient() as http:
            health = (await http.get(server.url + "/health")).json()["app"]
        await page.wait_for_function(
            "document.getElementById('minds').textContent.includes('Memories')", timeout=10_000
        )
        minds = await page.text_content("#minds")
        assert health["llm"] in minds and health["embedder"] in minds
        # The join form offers the characters the server lists; the HTML repeats none.
        async with httpx.AsyncClient(base_url=server.url) as http:
            html = (await http.get("/")).text
            reply = await http.post("/api/query", json={"path": "characters:choosable", "args": {}})
        looks = reply.json()["value"]
        assert looks and "<option" not in html
        await page.wait_for_function(
            "document.querySelectorAll('#character option').length > 0", timeout=10_000
        )
        options = await page.evaluate(
            """[...document.querySelectorAll('#character option')]
                .map((o) => ({character: o.value, label: o.textContent}))"""
        )
        assert options == looks
        # A viewer of a small town follows the roster, one small view per player, the
        # conversations and the clock, not the whole world document.
        paths = await page.evaluate("window.smalltown.subscriptions()")
        assert {"world:worldRoster", "world:worldConversations", "world:worldClock"} <= set(paths)
        assert "characters:choosable" in paths
        assert paths.count("world:playerView") == 5
        assert "world:worldState" not in paths and "world:worldView" not in paths
        assert "viewport:region" not in paths  # a town this small is followed player by player
        # The canvas holds a picture, not a blank: many distinct colours.
        await page.wait_for_function(
            """() => {
                const c = document.getElementById('map');
                const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                const seen = new Set();
                for (let i = 0; i < data.length; i += 997) {
                    seen.add(data[i] << 16 | data[i + 1] << 8 | data[i + 2]);
                }
                return seen.size > 20;
            }""",
            timeout=10_000,
        )
        # The fountain's animated sprite is loaded from its sheet.
        await page.wait_for_function(
            "window.smalltown.spriteCount() >= 1 && window.smalltown.spriteFramesShown() >= 1",
            timeout=10_000,
        )
        # Characters move on their own: someone's drawn position changes.
        start = await page.evaluate(
            "window.smalltown.world.players.map((p) => window.smalltown.positionOf(p.id))"
        )
        await page.wait_for_function(
            """(start) => window.smalltown.world.players.some((p, i) => {
                const at = window.smalltown.positionOf(p.id);
                return start[i] && Math.hypot(at.x - start[i].x, at.y - start[i].y) > 0.5;
            })""",
            arg=start,
            timeout=60_000,
        )
        # Zoom with the wheel about the cursor, then drag to pan: the town moves under it.
        before = await page.evaluate("window.smalltown.camera.scale")
        tile = await page.evaluate("window.smalltown.tileToClient(23, 15)")
        await page.mouse.move(tile["x"], tile["y"])
        await page.mouse.wheel(0, -400)
        await page.wait_for_function(f"window.smalltown.camera.scale > {before} * 1.5")
        after = await page.evaluate("window.smalltown.tileToClient(23, 15)")
        assert abs(after["x"] - tile["x"]) < 2 and abs(after["y"] - tile["y"]) < 2
        await page.mouse.move(tile["x"], tile["y"])
        await page.mouse.down()
        await page.mouse.move(tile["x"] - 120, tile["y"] - 60, steps=5)
        await page.mouse.up()
        moved = await page.evaluate("window.smalltown.tileToClient(23, 15)")
        assert abs(moved["x"] - (tile["x"] - 120)) < 3 and abs(moved["y"] - (tile["y"] - 60)) < 3
        assert await page.evaluate("window.smalltown.selected") is None  # a drag is no click
        await page.click("#zoom-fit")
        # Fitted, the town fills the canvas (no bars), and people are big enough to see.
        view = await page.evaluate(
            """() => { const c = window.smalltown.camera, v = c.viewSize();
                return {x: c.x, y: c.y, w: v.width / c.scale, h: v.height / c.scale,
                        width: c.world.width, height: c.world.height,
                        person: window.smalltown.debug.spriteHeight}; }"""
        )
        assert view["x"] >= 0 and view["y"] >= 0
        assert view["x"] + view["w"] <= view["width"] + 0.5
        assert view["y"] + view["h"] <= view["height"] + 0.5
        assert view["person"] >= 32
        assert (await page.text_content("#connection")) == "live"
        assert errors == []
        await page.screenshot(path=save_artifact("town.png"))


@pytest.mark.timeout(120)
async def test_a_person_joins_from_the_page_walks_and_a_reload_resumes(
    tmp_path, browser, monkeypatch
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "5")
    app = create_app(f"sqlite:///{tmp_path}/play.db", "smalltown.town")
    async with RunningServer(app) as server:
        page, errors = await open_town(browser, server.url + "/")
        me = await join(page, "Ada")
        await arrive(page, server.url, me, 23, 15)  # the crossroads: the player walks there
        resident = await invite(page)
        await page.wait_for_function(
            """(me) => window.smalltown.world.conversations.some(
                (c) => c.participants.some((p) => p.playerId === me))""",
            arg=me,
            timeout=30_000,
        )
        assert resident != me
        # A reload keeps the token: the same player, not a new one.
        await page.reload()
        await page.wait_for_function(
            "window.smalltown && window.smalltown.me !== null", timeout=30_000
        )
        assert await page.evaluate("window.smalltown.me") == me
        # Each player's view is a live query of its own: wait until all have arrived.
        await page.wait_for_function(
            """() => { const s = window.smalltown;
                return s.world && s.roster
                    && s.world.players.length === s.roster.players.length; }""",
            timeout=30_000,
        )
        humans = await page.evaluate("window.smalltown.world.players.filter((p) => p.human).length")
        assert humans == 1
        assert errors == []


def steps_of_a_plan(path, body):
    """The steps of a plan's item; everything else (a day plan too) gets the reply."""
    asked = body.get("messages", [{}])[-1].get("content", "")
    return "1. Knead the dough\n2. Bake the loaves\n3. Sweep up" if "Break this" in asked else None


@pytest.mark.timeout(240)
async def test_a_person_talks_with_a_resident_and_sees_what_they_remember(
    tmp_path, browser, monkeypatch
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    fake = FakeLLM(rule=steps_of_a_plan)
    fake.default_reply = REPLY
    async with RunningServer(fake.app) as llm:
        use_llm(monkeypatch, llm.url)
        app = create_app(f"sqlite:///{tmp_path}/talk.db", "smalltown.town")
        async with RunningServer(app) as server:
            page, errors = await open_town(browser, server.url + "/")
            await join(page, "Ada")
            resident = await meet(page)
            # Walking off mid-talk is refused by the engine, and the page says why.
            refused = await click_an_empty_tile(page, "moveTo")
            assert refused == "moveTo: leave the conversation before walking away", refused
            assert not await page.is_hidden("#say")
            await page.evaluate("(id) => window.smalltown.select(id)", resident)
            await page.fill("#message", "Good morning! How is the bread today?")
            await page.click("#say button")
            # The scripted reply shows in the conversation panel, the bubble and the
            # resident's details, which follow the conversation live.
            await page.wait_for_function(
                """(reply) => {
                    const lines = [...document.querySelectorAll('#transcript li')];
                    const ada = 'Ada: Good morning! How is the bread today?';
                    return lines.some((l) => l.textContent === ada)
                        && lines.some((l) => l.textContent.endsWith(': ' + reply));
                }""",
                arg=REPLY,
                timeout=90_000,
            )
            said = await page.evaluate("(id) => window.smalltown.said.get(id).text", resident)
            assert said == REPLY
            # The resident's details name the conversation but leave its lines to the
            # conversation panel: the side panel shows them once.
            # (Read at once: the resident speaks again after a minute of game time.)
            shown = await page.evaluate(
                """() => Object.fromEntries(['current-conversation', 'transcript', 'details']
                    .map((id) => [id, document.getElementById(id).textContent]))"""
            )
            current = shown["current-conversation"]
            assert "Talking with Ada" in current and REPLY not in current
            assert REPLY not in shown["details"] and shown["transcript"].count(REPLY) >= 1
            await page.click("#goodbye")
            await page.wait_for_selector("#talk[hidden]", state="attached", timeout=30_000)
            # Afterwards: the conversation is in the resident's past, word for word, and
            # the resident remembers it, with an importance.
            await page.wait_for_function(
                """(reply) => {
                    const past = document.querySelector('#details details.past');
                    return past && past.textContent.includes('With Ada')
                        && past.textContent.includes(reply);
                }""",
                arg=REPLY,
                timeout=60_000,
            )
            await page.wait_for_function(
                "document.querySelectorAll('#details .memories li .importance').length >= 1",
                timeout=90_000,
            )
            memory = await page.text_content("#details .memories li")
            assert len(memory) > 5
            # The resident's plan for today, the item under way marked (its answer was
            # no plan, so the offline brain's stands in).
            await page.wait_for_selector("#todays-plan li.now", timeout=30_000)
            plan = await page.text_content("#todays-plan")
            assert "Today's plan" in plan and " at the " in plan
            assert errors == []
            await page.screenshot(path=save_artifact("talk.png"))


@pytest.mark.timeout(180)
async def test_stopping_the_llm_shows_a_banner_with_the_fix(tmp_path, browser, monkeypatch):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    llm = RunningServer(FakeLLM().app)
    await llm.__aenter__()
    try:
        use_llm(monkeypatch, llm.url)
        app = create_app(f"sqlite:///{tmp_path}/down.db", "smalltown.town")
        async with RunningServer(app) as server:
            page, _ = await open_town(browser, server.url + "/")
            assert "cannot speak" not in await page.text_content("#banners")
            await llm.__aexit__(None, None, None)  # the LLM goes away
            await join(page, "Ada")
            await meet(page)
            await page.fill("#message", "Anyone there?")
            await page.click("#say button")
            await page.wait_for_function(
                "document.getElementById('banners').textContent.includes('cannot speak')",
                timeout=120_000,
            )
            banner = await page.text_content("#banners")
            assert "LLM_API_URL" in banner  # the setting that fixes it
    finally:
        await llm.__aexit__(None, None, None)


@pytest.mark.timeout(180)
async def test_a_spent_budget_shows_a_pause_with_its_end_and_the_setting(
    tmp_path, browser, monkeypatch
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "20")
    monkeypatch.setenv("SMALLTOWN_LLM_TOKENS_PER_HOUR", "5")  # one line spends it
    async with RunningServer(FakeLLM().app) as llm:
        use_llm(monkeypatch, llm.url)
        app = create_app(f"sqlite:///{tmp_path}/budget.db", "smalltown.town")
        async with RunningServer(app) as server:
            page, errors = await open_town(browser, server.url + "/")
            await page.wait_for_function(
                "document.getElementById('banners').textContent.includes('budget')",
                timeout=150_000,
            )
            banner = await page.text_content("#banners")
            assert "budget of 5 tokens an hour is spent" in banner
            assert "keep walking, and talk again at" in banner
            assert "SMALLTOWN_LLM_TOKENS_PER_HOUR" in banner
            assert "cannot speak" not in banner  # a pause, not a fault
            assert not errors
            await page.screenshot(path=save_artifact("budget.png"))


@pytest.mark.timeout(180)
async def test_two_people_play_at_once_and_neither_can_act_as_the_other(
    tmp_path, browser, offline, monkeypatch
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "5")
    app = create_app(f"sqlite:///{tmp_path}/two.db", "smalltown.town")
    async with RunningServer(app) as server:
        first, second = await browser.new_context(), await browser.new_context()
        page_a, errors_a = await open_town(browser, server.url + "/", first)
        page_b, errors_b = await open_town(browser, server.url + "/", second)
        ada = await join(page_a, "Ada", "f1")
        bo = await join(page_b, "Bo", "f4")
        assert ada != bo
        # Each sees the other: Bo walks, and Ada's page shows Bo arriving.
        await page_a.wait_for_function(
            "(id) => window.smalltown.positionOf(id) !== null", arg=bo, timeout=30_000
        )
        await arrive(page_b, server.url, bo, 20, 16)
        await wait_near(page_a, bo, 20, 16)
        await arrive(page_a, server.url, ada, 26, 15)
        await wait_near(page_b, ada, 26, 15)
        # Ada's token cannot move Bo, nor speak for him.
        token = await page_a.evaluate("localStorage.getItem('smalltown.token')")
        status = await page_a.evaluate("window.smalltown.status")
        async with httpx.AsyncClient(base_url=server.url) as http:
            reply = await http.post(
                "/api/mutation",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "path": "world:sendWorldInput",
                    "args": {
                        "engineId": status["engineId"],
                        "name": "moveTo",
                        "args": {"playerId": bo, "destination": {"x": 5, "y": 5}},
                    },
                    "format": "json",
                },
            )
        body = reply.json()
        assert body["status"] == "error"
        assert f"player {bo} is not yours" in body["errorMessage"]
        assert errors_a == [] and errors_b == []
        await first.close()
        await second.close()


@pytest.mark.timeout(120)
async def test_worlds_are_chosen_and_an_admin_freezes_and_resumes(tmp_path, browser, offline):
    url = f"sqlite:///{tmp_path}/worlds.db"
    store = await open_town_store(url)
    try:
        first = await create(store, town_map(), CHARACTERS)
        second = await create(store, town_map(), CHARACTERS)
    finally:
        await store.close()
    app = create_app(url, "smalltown.town", ServerSettings(admin_key="the-admin-key"))
    async with RunningServer(app) as server:
        page, errors = await open_town(browser, server.url + "/")
        assert await page.evaluate("window.smalltown.status.worldId") == first  # the default
        assert await page.is_hidden("#admin")  # no admin key given
        await page.wait_for_selector("#world-select:not([hidden])", timeout=30_000)
        await page.select_option("#world-select", second)
        await page.wait_for_function(
            "(id) => window.smalltown.status.worldId === id && window.smalltown.drawnPlayers >= 5",
            arg=second,
            timeout=30_000,
        )
        assert f"world={second}" in page.url

        # With the admin key in the address, the page offers freeze and resume.
        await page.goto(f"{server.url}/?world={second}#admin=the-admin-key")
        await page.wait_for_selector("#freeze:not([hidden])", timeout=30_000)
        assert "the-admin-key" not in page.url
        await page.click("#freeze")
        await page.wait_for_function(
            "document.getElementById('banners').textContent.includes('frozen')", timeout=30_000
        )
        await page.click("#resume")
        await page.wait_for_function(
            "!document.getElementById('banners').textContent.includes('frozen')",
            timeout=30_000,
        )
        assert await page.evaluate("window.smalltown.status.worldId") == second
        assert errors == []


@pytest.mark.timeout(120)
async def test_a_world_in_the_address_is_the_one_named_and_eight_are_eight_people(
    tmp_path, browser, offline
):
    url = f"sqlite:///{tmp_path}/eight.db"
    store = await open_town_store(url)
    try:
        await create(store, town_map(), CHARACTERS)
        eight = await create(store, town_map(), many_characters(8))
    finally:
        await store.close()
    app = create_app(url, "smalltown.town")
    async with RunningServer(app) as server:
        page, errors = await open_town(browser, f"{server.url}/?world={eight}")
        await page.wait_for_selector("#world-select:not([hidden])", timeout=30_000)
        assert await page.evaluate("window.smalltown.status.worldId") == eight
        assert await page.eval_on_selector("#world-select", "(s) => s.value") == eight
        await page.wait_for_function("window.smalltown.drawnPlayers >= 8", timeout=30_000)
        names = await page.evaluate(
            "window.smalltown.descriptions.playerDescriptions.map((d) => d.name)"
        )
        assert len(names) == 8 and len(set(names)) == 8
        assert not any(name[-1].isdigit() for name in names)  # no "Ingrid 2"
        assert errors == []


@pytest.mark.timeout(180)
async def test_a_conversation_without_a_line_is_not_listed(tmp_path, browser, monkeypatch):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    fake = FakeLLM()
    async with RunningServer(fake.app) as llm:
        use_llm(monkeypatch, llm.url)
        app = create_app(f"sqlite:///{tmp_path}/silent.db", "smalltown.town")
        async with RunningServer(app) as server:
            fake.fail("timeout", times=1000)  # from now the resident cannot get a word out
            page, errors = await open_town(browser, server.url + "/")
            await join(page, "Ada")
            resident = await meet(page)
            await page.click("#goodbye")
            await page.wait_for_selector("#talk[hidden]", state="attached", timeout=30_000)
            await page.evaluate("(id) => window.smalltown.select(id)", resident)
            await page.wait_for_function(
                """() => { const d = window.smalltown.details;
                    return d && d.pastConversations.length >= 1; }""",
                timeout=60_000,
            )
            details = await page.evaluate("window.smalltown.details.pastConversations")
            assert all(not c["messages"] for c in details)  # the silent one, and only it
            assert await page.locator("#details details.past").count() == 0
            assert "Earlier conversations" not in await page.text_content("#details")
            assert errors == []
            fake.fail_next.clear()
            fake.release()


NO_OVERLAP = """() => {
    const { labels, controls } = window.smalltown.debug;
    const meet = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w
        && a.y < b.y + b.h && b.y < a.y + a.h;
    const bad = [];
    labels.forEach((a, i) => {
        labels.slice(i + 1).forEach((b) => { if (meet(a, b)) bad.push([a.text, b.text]); });
        controls.forEach((c) => { if (meet(a, c)) bad.push([a.text, "the zoom buttons"]); });
    });
    return bad;
}"""


async def crowded_square(path: Path) -> str:
    """The URL of a store holding a world of eight residents on a small open square: they
    stand close and soon talk."""
    url = f"sqlite:///{path}"
    width, height = 9, 7
    square = WorldMap(
        width,
        height,
        32,
        "/assets/town-tiles.png",
        256,
        64,
        [[[2] * height for _ in range(width)]],
        [[[EMPTY] * height for _ in range(width)]],
    )
    store = await open_town_store(url)
    try:
        await create(store, square, many_characters(8))
    finally:
        await store.close()
    return url


@pytest.mark.timeout(180)
async def test_the_details_panel_stays_put_while_what_it_shows_does(
    tmp_path, browser, offline, monkeypatch
):
    """The panel is rendered again on every change in the town, a line or a "typing…"
    anywhere; it replaces its elements only when what it shows changed, so its buttons
    stay under a pointer while others talk."""
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    app = create_app(await crowded_square(tmp_path / "panel.db"), "smalltown.town")
    async with RunningServer(app) as server:
        page, errors = await open_town(browser, server.url + "/")
        await page.evaluate(
            """() => { const s = window.smalltown, box = document.getElementById('details');
                s.select(s.world.agents[0].playerId);
                let markup = box.innerHTML;
                s.panel = {same: 0, changed: 0};
                new MutationObserver(() => {
                    if (box.innerHTML === markup) s.panel.same += 1;
                    else s.panel.changed += 1;
                    markup = box.innerHTML;
                }).observe(box, {childList: true, subtree: true, characterData: true});
            }"""
        )
        # Eight lines spoken in the town, each a change the page hears.
        await page.wait_for_function(
            """() => [...window.smalltown.transcripts.values()]
                .reduce((n, lines) => n + lines.length, 0) >= 8""",
            timeout=120_000,
        )
        panel = await page.evaluate("window.smalltown.panel")
        assert panel["same"] == 0, panel
        assert errors == []


@pytest.mark.timeout(180)
async def test_names_and_words_of_a_crowd_never_cover_each_other_or_the_controls(
    tmp_path, browser, offline, monkeypatch
):
    monkeypatch.setenv("SMALLTOWN_TIME_SCALE", "10")
    app = create_app(await crowded_square(tmp_path / "crowd.db"), "smalltown.town")
    async with RunningServer(app) as server:
        page, errors = await open_town(browser, server.url + "/")
        await page.wait_for_function(
            """() => { const labels = window.smalltown.debug.labels;
                return labels.filter((l) => l.kind === "bubble").length >= 2
                    && labels.filter((l) => l.kind === "name").length >= 6; }""",
            timeout=120_000,
        )
        # Frame after frame, while they talk and move: no rectangle meets another.
        for _ in range(30):
            assert await page.evaluate(NO_OVERLAP) == []
            await page.evaluate("new Promise((done) => requestAnimationFrame(() => done()))")
        # Each bubble stays with its speaker: drawn near them or tied to them by a line.
        labels = await page.evaluate("window.smalltown.debug.labels")
        for bubble in (label for label in labels if label["kind"] == "bubble"):
            near = abs(bubble["x"] + bubble["w"] / 2 - bubble["ax"]) < bubble["w"]
            assert near or bubble["leader"]
        # Zoomed out as far as it goes, the rule still holds.
        for _ in range(3):
            await page.click("#zoom-out")
        assert await page.evaluate(NO_OVERLAP) == []
        await page.screenshot(path=save_artifact("crowd.png"))
        assert errors == []


@pytest.mark.timeout(60)
async def test_a_wrong_admin_key_is_refused_and_said(tmp_path, browser, offline):
    app = create_app(
        f"sqlite:///{tmp_path}/key.db", "smalltown.town", ServerSettings(admin_key="right")
    )
    async with RunningServer(app) as server:
        page, _ = await open_town(browser, server.url + "/#admin=wrong")
        await page.click("#freeze")
        await page.wait_for_function(
            "document.getElementById('banners').textContent.includes('testing:stop')",
            timeout=30_000,
        )
        assert await page.evaluate("window.smalltown.status.status") == "running"


DAY_MS = 86_400_000


async def start_clock_at(store, world_id: str, hour: float) -> None:
    """Start a world's game clock at ``hour`` UTC tomorrow (the runner carries a world's
    clock on from its stored time when that is ahead of its own): tests that read colours
    off the canvas see the town by day whatever the time they run at."""
    at = (time.time() * 1000 // DAY_MS + 1) * DAY_MS + hour * 3600_000

    async def move(tx) -> None:
        status = await tx.first("worldStatus", "worldId", eq={"worldId": world_id})
        await tx.patch(status["engineId"], {"currentTime": at, "lastStepTs": at})

    await store.run(move)


async def colour_count(page, rgb) -> int:
    """How many of the canvas's pixels are this colour (within a shade)."""
    return await page.evaluate(
        """([r, g, b]) => {
            const c = document.getElementById('map');
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g)
                    + Math.abs(data[i + 2] - b) <= 6) n += 1;
            }
            return n;
        }""",
        list(rgb),
    )


@pytest.mark.timeout(180)
async def test_an_imported_ai_town_is_drawn_with_its_tile_set_and_walking_sprites(
    tmp_path, browser, offline
):
    """A world imported from an AI Town checkout (our own small one) is drawn from the
    stored images: its tile set, its animated sprite, and residents from their sprite
    sheets' frames, a walker cycling through the frames of the way it faces."""
    from smalltown.worlds.checkout.install import install
    from smalltown.worlds.checkout.reader import read_checkout

    from aitown_checkout import SPARKLE, TILE_COLOURS, frame_colour, write_checkout

    url = f"sqlite:///{tmp_path}/imported.db"
    store = await open_town_store(url)
    try:
        imported = await install(
            store, read_checkout(write_checkout(tmp_path / "my-town")), "my-town"
        )
        await start_clock_at(store, imported.world_id, 12)  # by day: the tiles in their own colours
    finally:
        await store.close()
    async with RunningServer(create_app(url, "smalltown.town")) as server:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(server.url + "/")
        await page.wait_for_function(
            "window.smalltown && window.smalltown.sheetFrames().length === 3", timeout=30_000
        )
        await page.wait_for_function("window.smalltown.spriteFramesShown() > 0", timeout=10_000)
        # The tile set's grass, path and wall, and the sparkle (in one frame or the other),
        # are on the canvas.
        # (the server names its images by whole URLs on its public address, which here
        # is not the test server's: the page still loads them from where it came from)
        for colour in TILE_COLOURS:
            assert await colour_count(page, colour) > 50, colour

        async def sparkle_seen() -> bool:
            # (a resident may stand on its tile, or a name cover it, for a while)
            return sum([await colour_count(page, c) for c in SPARKLE]) > 50

        await eventually(sparkle_seen, "the sparkle to be drawn", timeout=60, interval=0.25)
        shown = await page.evaluate("window.smalltown.sheetFrames()")
        # Standing residents show their facing's first frame, in their sheet's colours.
        for frame in shown:
            assert frame["index"] == 0
        standing = {frame_colour(s, 0, 0) for s in (0, 1)}
        assert sum([await colour_count(page, c) for c in standing]) > 100
        # A person joining as f1 wears the imported f1 and walks with its frames.
        me = await join(page, "Visitor", "f1")
        await page.wait_for_function(
            "(id) => window.smalltown.sheetFrames().some((f) => f.playerId === id)",
            arg=me,
            timeout=30_000,
        )
        start = await page.evaluate("(id) => window.smalltown.positionOf(id)", me)
        others = await page.evaluate(
            """(id) => window.smalltown.world.players.filter((p) => p.id !== id)
                .map((p) => window.smalltown.positionOf(p.id))""",
            me,
        )
        # Across the map along its middle rows (clear of the wall, the zoom buttons in a top
        # corner and the edges the fitted view may crop), to the tile no resident stands
        # nearest (a resident under the pointer would take the click).
        row = min(max(round(start["y"]), 3), 5)
        ends = (1, 2) if start["x"] > 5 else (9, 10)
        target_x = max(
            ends,
            key=lambda x: min((abs(o["x"] - x) + abs(o["y"] - row) for o in others), default=9),
        )
        await walk(page, me, target_x, row, tries=10)
        facing = "left" if target_x < start["x"] else "right"
        await page.wait_for_function(
            """([id, facing]) => {
                const s = window.smalltown;
                const mine = s.sheetFrames().find((f) => f.playerId === id);
                s.walkFrames = s.walkFrames || new Set();
                if (mine && mine.animation === facing) s.walkFrames.add(mine.index);
                return s.walkFrames.size >= 3;
            }""",
            arg=[me, facing],
            timeout=60_000,
            polling="raf",
        )
        await page.screenshot(path=save_artifact("imported-town.png"))
        assert errors == []
