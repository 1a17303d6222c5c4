"""News travels: one resident is told of a party; with the LLM scripted to pass news on,
the town runs fast until others come to know of it, each remembering who told them and
planning to go (in the spirit of Generative Agents' party); with the offline brain, until
they turn up. ``smalltown eval diffusion`` runs the same
scenario against any configured LLM.

Who meets whom, and so how soon news spreads, depends on the world's seed, on the
residents' plans (which places, from the game's time of day) and on which operation
finishes first; so the runs go on until enough know, within a generous bound, rather
than for a fixed game time."""

import re

import pytest
from test_agents_talk import planning, small_map

from fake_llm import FakeLLM, plan_reply
from smalltown.bench.diffusion import Diffusion, run_diffusion
from smalltown.llm import LLMConfig, open_provider

from helpers import RunningServer

KNOWING = 3  # the first told, and two more
BOUND_MINUTES = 40  # game minutes; news reaches three of five in about five
PARTY_IN = 10  # game minutes: when the offline brain's run has the party begin


def retell(path: str, body: dict) -> str | None:
    """The scripted LLM: a plan when asked for one; a speaker with news passes it on; a
    listener who heard it writes down who told them; everything else is small talk."""
    if "embed" in path:
        return None
    if planning(body):
        return plan_reply(body["messages"][-1]["content"])
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    news = re.search(r"News you heard lately[^:]*: .* told me about (.*)", system)
    if news:
        return f"Have you heard? There is {news.group(1)}"
    talked = re.search(r"You just talked with ([^.]+)\.", user)
    if talked:
        event = re.search(r"There is (a party[^\n]*)", user)
        if event:
            return f"{talked.group(1)} told me about {event.group(1)} Importance: 8"
        return "A pleasant chat about the weather. Importance: 2"
    return "Lovely weather for it."


def enough_know(found: Diffusion) -> bool:
    """Three know, and each who knows has the party in its plan."""
    return len(found.knew) >= KNOWING and set(found.knew) <= set(found.planned)


def enough_came(found: Diffusion) -> bool:
    """Besides, two stand at the party, their plan having taken them there."""
    return enough_know(found) and len(found.turned_up) >= 2


def assert_sources_named(found: Diffusion) -> None:
    """Each remembers who told them: another resident (or, in a group, others), by name."""
    for name, memory in found.heard.items():
        tellers = re.split(r", | and ", memory.split(" told me")[0])  # a group: "A, B and C"
        assert name not in tellers, (name, memory)
        assert set(tellers) <= set(found.residents_names), (name, memory)


@pytest.mark.timeout(600)
async def test_news_of_a_party_reaches_others_with_its_source(tmp_path, caplog):
    fake = FakeLLM(rule=retell)
    async with RunningServer(fake.app) as server:
        config = LLMConfig("openai", f"{server.url}/v1", "chatty", "embedder", None, "LLM_API_URL")
        llm = open_provider(config, retry_delays=(0.01,))
        try:
            found = await run_diffusion(
                llm,
                llm,
                residents=5,
                game_minutes=BOUND_MINUTES,
                world_map=small_map(),
                database=f"sqlite:///{tmp_path}/diffusion.db",
                until=enough_know,
            )
        finally:
            await llm.close()
    print("\n".join(found.lines_of_report()))
    assert found.lines > 0 and found.conversations > 0
    assert enough_know(found), found.lines_of_report()
    assert_sources_named(found)
    news = [b for b in fake.chats() if "News you heard lately" in b["messages"][0]["content"]]
    assert any("party" in b["messages"][0]["content"] for b in news)
    # Every plan answered was usable: no resident fell back on a default plan.
    assert not [r for r in caplog.records if "default plan" in r.getMessage()]


@pytest.mark.timeout(600)
async def test_the_offline_brain_passes_news_on_too(tmp_path):
    from smalltown.llm.hashed_embeddings import HashedEmbedder
    from smalltown.llm.offline import OfflineBrain

    found = await run_diffusion(
        OfflineBrain(),
        HashedEmbedder(),
        residents=5,
        game_minutes=BOUND_MINUTES,
        world_map=small_map(),
        database=f"sqlite:///{tmp_path}/offline.db",
        party_in=PARTY_IN,
        until=enough_came,
    )
    print("\n".join(found.lines_of_report()))
    # The party is at five, 10 game minutes in: news spreads, and its hearers' plans
    # (made without a model) take them there.
    assert enough_came(found), found.lines_of_report()
    for name, memory in found.heard.items():
        teller = memory.split(" told me")[0]
        assert teller != name and teller in found.residents_names, (name, memory)
