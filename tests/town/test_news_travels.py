"""News travels: one resident is told of a party; with the LLM scripted to pass news on,
the town runs fast and others come to know of it, each remembering who told them (in
the spirit of Generative Agents' party). ``smalltown eval diffusion`` runs the same
scenario against any configured LLM."""

import re

import pytest
from test_agents_talk import small_map

from fake_llm import FakeLLM
from smalltown.bench.diffusion import run_diffusion
from smalltown.llm import LLMConfig, open_provider

from helpers import RunningServer

NEWS = "Have you heard? There is a party at the well in the square at five!"


def retell(path: str, body: dict) -> str | None:
    """The scripted LLM: a speaker with news passes it on; a listener who heard it
    writes down who told them; everything else is small talk."""
    if "embed" in path:
        return None
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if "News you heard lately" in system:
        return NEWS
    talked = re.search(r"You just talked with ([^.]+)\.", user)
    if talked:
        if "party" in user:
            return f"{talked.group(1)} told me about a party at the well at five. Importance: 8"
        return "A pleasant chat about the weather. Importance: 2"
    return "Lovely weather for it."


@pytest.mark.timeout(300)
async def test_news_of_a_party_reaches_others_with_its_source(tmp_path):
    fake = FakeLLM(rule=retell)
    async with RunningServer(fake.app) as server:
        config = LLMConfig("openai", f"{server.url}/v1", "chatty", "embedder", None, "LLM_API_URL")
        llm = open_provider(config, retry_delays=(0.01,))
        try:
            found = await run_diffusion(
                llm,
                llm,
                residents=5,
                game_minutes=5,
                world_map=small_map(),
                database=f"sqlite:///{tmp_path}/diffusion.db",
            )
        finally:
            await llm.close()
    print("\n".join(found.lines_of_report()))
    assert found.lines > 0 and found.conversations > 0
    assert len(found.knew) >= 3, found.lines_of_report()  # the first told, and two more
    # Each remembers who told them: another resident, by name.
    for name, memory in found.heard.items():
        tellers = re.split(r", | and ", memory.split(" told me")[0])  # a group: "A, B and C"
        assert name not in tellers, (name, memory)
        assert set(tellers) <= set(found.residents_names), (name, memory)
    news = [b for b in fake.chats() if "News you heard lately" in b["messages"][0]["content"]]
    assert any("party" in b["messages"][0]["content"] for b in news)


@pytest.mark.timeout(300)
async def test_the_offline_brain_passes_news_on_too(tmp_path):
    from smalltown.llm.hashed_embeddings import HashedEmbedder
    from smalltown.llm.offline import OfflineBrain

    found = await run_diffusion(
        OfflineBrain(),
        HashedEmbedder(),
        residents=5,
        game_minutes=10,
        world_map=small_map(),
        database=f"sqlite:///{tmp_path}/offline.db",
    )
    print("\n".join(found.lines_of_report()))
    assert len(found.knew) >= 3, found.lines_of_report()
    for name, memory in found.heard.items():
        teller = memory.split(" told me")[0]
        assert teller != name and teller in found.residents_names, (name, memory)
