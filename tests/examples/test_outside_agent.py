"""The example outside agent (``examples/outside_agent.py``) plays a resident on a real
server: it joins, walks, accepts a person's invitation, answers each line and takes its
leave. The server and the example run in processes of their own; the test plays the
person through the official Python client."""

import subprocess
import sys
from pathlib import Path

import convex
import pytest

from helpers import free_port, wait_healthy
from helpers import wait_for as _wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "outside_agent.py"


@pytest.fixture
def town(tmp_path):
    """A server with an empty world of its own (no residents to distract the visitor)."""
    database = f"sqlite:///{tmp_path}/town.db"
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "smalltown.cli",
            "worlds",
            "create",
            "--agents",
            "0",
            "--database",
            database,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    world_id = created.stdout.split()[-1]
    port = free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "smalltown.cli", "run", "--port", str(port), "--database", database],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log=tmp_path / "server.log")
    yield url, world_id
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def wait_for(condition, what: str, timeout: float):
    """Look a few times a second: the server's rate limit is per address, and the visitor
    calls from this one too."""
    return _wait_for(condition, what, timeout, interval=0.25)


def _players(client: convex.ConvexClient, world_id: str) -> dict[str, dict]:
    state = client.query("world:worldState", {"worldId": world_id})
    return {p["id"]: p for p in state["world"]["players"]}


def _conversation(client, world_id: str, player_id: str) -> dict | None:
    state = client.query("world:worldState", {"worldId": world_id})
    return next(
        (
            c
            for c in state["world"]["conversations"]
            if any(p["playerId"] == player_id for p in c["participants"])
        ),
        None,
    )


@pytest.mark.timeout(240)
def test_the_example_joins_walks_answers_and_leaves(town, tmp_path):
    url, world_id = town
    out = open(tmp_path / "agent.log", "w")  # noqa: SIM115
    agent = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--url", url, "--world", world_id, "--name", "Outsider"],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        person = convex.ConvexClient(url)
        names = lambda: {  # noqa: E731
            d["name"]: d["playerId"]
            for d in person.query("world:gameDescriptions", {"worldId": world_id})[
                "playerDescriptions"
            ]
        }
        visitor = wait_for(lambda: names().get("Outsider"), "the visitor to join", 60)
        start = _players(person, world_id)[visitor]["position"]

        def moved() -> bool:
            assert agent.poll() is None, (tmp_path / "agent.log").read_text()
            return _players(person, world_id)[visitor]["position"] != start

        wait_for(moved, "the visitor to walk", 60)

        # What the visitor sees is its own: another player's token is refused.
        joined = person.mutation(
            "world:joinWorld", {"worldId": world_id, "name": "Tess", "character": "f1"}
        )
        person.set_auth(joined["token"])
        me = wait_for(lambda: names().get("Tess"), "Tess to join", 60)
        with pytest.raises(convex.ConvexError, match="not yours"):
            person.query("feed:observe", {"worldId": world_id, "playerId": visitor})
        seen = person.query("feed:observe", {"worldId": world_id, "playerId": me})
        assert seen["me"]["name"] == "Tess" and seen["conversation"] is None

        engine = person.query("world:worldState", {"worldId": world_id})["engine"]["_id"]

        def invite() -> bool:
            # the visitor may be mid-stride: an invitation needs it out of conversations only
            person.mutation(
                "world:sendWorldInput",
                {
                    "engineId": engine,
                    "name": "startConversation",
                    "args": {"playerId": me, "invitee": visitor},
                },
            )
            return True

        invite()

        def talking() -> dict | None:
            c = _conversation(person, world_id, me)
            kinds = c and {p["status"]["kind"] for p in c["participants"]}
            return c if kinds == {"participating"} else None

        conversation = wait_for(talking, "the visitor to accept and come over", 90)["id"]

        def say(text: str, n: int) -> None:
            person.mutation(
                "messages:writeMessage",
                {
                    "worldId": world_id,
                    "conversationId": conversation,
                    "messageUuid": f"tess-{n}",
                    "playerId": me,
                    "text": text,
                },
            )

        def lines() -> list[dict]:
            return person.query(
                "messages:listMessages", {"worldId": world_id, "conversationId": conversation}
            )

        asked = ["Where can I find the bakery?", "Do you like the harbour?", "Farewell then."]
        for n, text in enumerate(asked):
            say(text, n)
            wait_for(
                lambda n=n: sum(m["author"] == visitor for m in lines()) > n,
                f"the visitor's answer to line {n}",
                60,
            )
        answers = [m["text"] for m in lines() if m["author"] == visitor]
        assert "bakery" in answers[0].lower()  # it answered what was asked
        assert "harbour" in answers[1].lower()
        assert len(set(answers)) == 3
        # After its third line it takes its leave: the conversation ends.
        wait_for(lambda: _conversation(person, world_id, me) is None, "the visitor to leave", 60)
    finally:
        agent.terminate()
        agent.wait(timeout=20)
        out.close()
    log = (tmp_path / "agent.log").read_text()
    assert "accepted" in log and "left the conversation" in log, log
