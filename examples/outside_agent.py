"""A resident played by a program outside the town.

It joins a world as a human player does, then lives off the town's feed (``feed:observe``,
a live query of what its resident sees and hears): it wanders while alone, accepts
invitations, answers whoever speaks to it and says goodbye after a few lines. Everything
it does goes through the functions and the token a human player's page uses, so what it
may do is exactly what a person may do.

    pip install convex
    python examples/outside_agent.py --url http://127.0.0.1:8000 --name Ada

Replace ``compose_reply`` with a call to your own model to give it a mind of its own.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from typing import Any

import convex

#: lines of its own after which it takes its leave
LINES_BEFORE_GOODBYE = 3
#: how far it strolls from where it stands, in tiles
STROLL = 6
#: how often it tells the town someone is watching (a world nobody views goes to sleep)
HEARTBEAT_SECONDS = 30


def compose_reply(heard: str, speaker: str, said_so_far: int) -> str:
    """What to say back to ``speaker``, who just said ``heard``. A stand-in for a model."""
    if said_so_far + 1 >= LINES_BEFORE_GOODBYE:
        return f"I should keep walking, {speaker}. Thanks for the talk!"
    words = [w.strip(".,!?;:\"'") for w in heard.split()]
    topic = max(words, key=len, default="that")
    if heard.rstrip().endswith("?"):
        return f"About {topic.lower()}? I only just came to town, {speaker}; what do you think?"
    return f"{topic.capitalize()}, you say. Tell me more, {speaker}."


class OutsideAgent:
    """One resident, driven from its feed. Each call to :meth:`act` looks at one update of
    the feed and sends at most one thing to the town."""

    def __init__(self, client: convex.ConvexClient, world_id: str, engine_id: str) -> None:
        self.client = client
        self.world_id = world_id
        self.engine_id = engine_id
        self.player_id = ""
        self.said: dict[str, int] = {}  # conversation id -> lines said there
        self.waiting_for: str | None = None  # a line written but not yet seen in the feed
        self.pending: str | None = None  # an input sent that the world has not yet taken
        self.last_heartbeat = 0.0
        self.rng = random.Random()

    def call(self, kind: str, path: str, args: dict[str, Any]) -> Any:
        """A query or mutation, waited out and tried again while the server says the
        client calls too often (its rate limit is per address, shared with neighbours)."""
        for attempt in range(8):
            try:
                return getattr(self.client, kind)(path, args)
            except convex.ConvexError:
                raise
            except Exception as exc:  # the client raises rate limiting as a plain Exception
                if "rate limit" not in str(exc):
                    raise
                time.sleep(0.1 * 2**attempt)
        return getattr(self.client, kind)(path, args)

    def join(self, name: str, character: str, description: str) -> str:
        joined = self.call(
            "mutation",
            "world:joinWorld",
            {
                "worldId": self.world_id,
                "name": name,
                "character": character,
                "description": description,
            },
        )
        self.client.set_auth(joined["token"])
        for status in self.client.subscribe(
            "aiTown/main:inputStatus", {"inputId": joined["inputId"]}
        ):
            if status is None:
                continue
            if status["kind"] != "ok":
                raise SystemExit(f"could not join: {status.get('message')}")
            self.player_id = status["value"]
            return self.player_id
        raise SystemExit("the server closed the connection while joining")

    def input(self, name: str, **args: Any) -> None:
        """Send an input; the next ones wait until the world has taken it (see :meth:`busy`)."""
        self.pending = self.call(
            "mutation",
            "world:sendWorldInput",
            {
                "engineId": self.engine_id,
                "name": name,
                "args": {"playerId": self.player_id, **args},
            },
        )

    def busy(self) -> bool:
        """Whether the last input is still on its way: the feed may not show it yet."""
        if self.pending is not None:
            if self.call("query", "aiTown/main:inputStatus", {"inputId": self.pending}) is None:
                return True
            self.pending = None
        return False

    def act(self, seen: dict[str, Any]) -> str | None:
        """React to one view of the world; returns what it did, for the log."""
        now = time.monotonic()
        if now - self.last_heartbeat > HEARTBEAT_SECONDS:
            self.call("mutation", "world:heartbeatWorld", {"worldId": self.world_id})
            self.last_heartbeat = now
        if self.busy():
            return None
        talk = seen["conversation"]
        if talk is None:
            return None if seen["me"]["walking"] else self.stroll(seen["me"]["position"])
        if talk["myStatus"] == "invited":
            self.input("acceptInvite", conversationId=talk["id"])
            return f"accepted {talk['creator']}'s invitation"
        if talk["myStatus"] != "participating":
            return None
        return self.answer(talk)

    def answer(self, talk: dict[str, Any]) -> str | None:
        lines = talk["lines"]
        if self.waiting_for is not None:
            if not any(line["text"] == self.waiting_for for line in lines):
                return None  # our last line is on its way
            self.waiting_for = None
        said = self.said.get(talk["id"], 0)
        if said >= LINES_BEFORE_GOODBYE:
            self.input("leaveConversation", conversationId=talk["id"])
            return "left the conversation"
        if not lines or lines[-1]["author"] == self.player_id:
            return None  # nothing new said to it
        if talk["typing"] not in (None, self.player_id):
            return None  # the other is typing: their turn
        last = lines[-1]
        text = compose_reply(last["text"], last["name"], said)
        self.call(
            "mutation",
            "messages:writeMessage",
            {
                "worldId": self.world_id,
                "conversationId": talk["id"],
                "messageUuid": str(uuid.uuid4()),
                "playerId": self.player_id,
                "text": text,
            },
        )
        self.said[talk["id"]] = said + 1
        self.waiting_for = text
        return f"said: {text}"

    def stroll(self, here: dict[str, float]) -> str:
        target = {
            "x": float(max(0, here["x"] + self.rng.randint(-STROLL, STROLL))),
            "y": float(max(0, here["y"] + self.rng.randint(-STROLL, STROLL))),
        }
        try:
            self.input("moveTo", destination=target)
        except convex.ConvexError as exc:  # off the map's far edge: try elsewhere next time
            return f"could not walk: {exc}"
        return f"walking to ({target['x']:.0f}, {target['y']:.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the smalltown server")
    parser.add_argument("--world", help="the world's id (default: the default world)")
    parser.add_argument("--name", default="Visitor", help="the resident's name")
    parser.add_argument("--description", default="A traveller who arrived this morning.")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: never)")
    args = parser.parse_args(argv)

    client = convex.ConvexClient(args.url)
    if args.world:
        status = next(
            (w for w in client.query("world:listWorlds", {}) if w["worldId"] == args.world), None
        )
    else:
        status = client.query("world:defaultWorldStatus", {})
    if status is None:
        print("no such world on this server", file=sys.stderr)
        return 1
    character = client.query("characters:choosable", {})[0]["character"]
    agent = OutsideAgent(client, status["worldId"], status["engineId"])
    print(f"joined as {agent.join(args.name, character, args.description)}", flush=True)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    feed = {"worldId": agent.world_id, "playerId": agent.player_id}
    last = None
    for seen in client.subscribe("feed:observe", feed):
        if seen == last:
            continue  # the client hands the value again after each of its own calls
        last = seen
        done = agent.act(seen)
        if done:
            print(done, flush=True)
        if deadline is not None and time.monotonic() > deadline:
            break
    client.mutation("world:leaveWorld", {"worldId": agent.world_id})
    return 0


if __name__ == "__main__":
    sys.exit(main())
