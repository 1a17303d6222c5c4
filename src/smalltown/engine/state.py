"""The world's live state, and its document form (AI Town's ``worlds`` shape).

Game ids are strings ``p:N`` (players), ``a:N`` (agents), ``c:N`` (conversations), from one
counter ``nextId``. Times are milliseconds. The document has AI Town's fields only, so an
exported world imports into AI Town; what else a world keeps (when pairs last talked, a
group's turn-taking, residents' plans) is its *bookkeeping*, added to the document as
``smalltownRecentPairs`` and ``smalltownPlans`` where smalltown's own tables hold a whole
world (checkpoints, a world's first state). The runner stores the lists of both, entry by
entry, in rows of their own (``worlds/parts.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from smalltown.engine.geometry import DOWN, Facing, Point


@dataclass
class Activity:
    description: str
    emoji: str | None
    until: float

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"description": self.description, "until": float(self.until)}
        if self.emoji is not None:
            doc["emoji"] = self.emoji
        return doc


@dataclass
class Pathfinding:
    destination: Point
    started: float
    kind: Literal["needsPath", "waiting", "moving"] = "needsPath"
    until: float = 0.0  # waiting
    path: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    """moving: waypoints ``(x, y, dx, dy, t)``: where the player is at time ``t``."""

    def to_doc(self) -> dict[str, Any]:
        state: dict[str, Any] = {"kind": self.kind}
        if self.kind == "waiting":
            state["until"] = float(self.until)
        elif self.kind == "moving":
            state["path"] = [[float(v) for v in p] for p in self.path]
        return {
            "destination": self.destination.as_dict(),
            "started": float(self.started),
            "state": state,
        }


@dataclass
class Player:
    id: str
    position: Point
    facing: Facing = DOWN
    speed: float = 0.0
    last_input: float = 0.0
    human: str | None = None  # the token identifier of the person playing it
    pathfinding: Pathfinding | None = None
    activity: Activity | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "lastInput": float(self.last_input),
            "position": self.position.as_dict(),
            "facing": self.facing.as_dict(),
            "speed": float(self.speed),
        }
        if self.human is not None:
            doc["human"] = self.human
        if self.pathfinding is not None:
            doc["pathfinding"] = self.pathfinding.to_doc()
        if self.activity is not None:
            doc["activity"] = self.activity.to_doc()
        return doc


@dataclass
class Participant:
    player_id: str
    invited: float
    status: Literal["invited", "walkingOver", "participating"]
    started: float | None = None  # participating since

    def to_doc(self) -> dict[str, Any]:
        status: dict[str, Any] = {"kind": self.status}
        if self.status == "participating":
            status["started"] = float(self.started or 0.0)
        return {"playerId": self.player_id, "invited": float(self.invited), "status": status}


@dataclass
class Conversation:
    id: str
    creator: str
    created: float
    participants: dict[str, Participant]
    num_messages: int = 0
    typing: tuple[str, str, float] | None = None  # (player, message uuid, since)
    last_message: tuple[str, float] | None = None  # (author, timestamp)
    # Turn-taking in a group of three or more (bookkeeping, not in AI Town's document):
    spoke: dict[str, float] = field(default_factory=dict)  # when each last spoke
    said: dict[str, int] = field(default_factory=dict)  # how many lines each has said
    addressed: tuple[str, ...] = ()  # who the latest line named
    relevance: dict[str, float] = field(default_factory=dict)  # how much each has to add
    left: tuple[str, ...] = ()  # who took part and left before the end

    def other(self, player_id: str) -> str:
        return next(p for p in self.participants if p != player_id)

    def turns_doc(self) -> dict[str, Any] | None:
        """A group's turn-taking as bookkeeping; None when there is none to keep."""
        if not (self.spoke or self.said or self.addressed or self.relevance or self.left):
            return None
        return {
            "conversation": self.id,
            "spoke": [[p, float(t)] for p, t in self.spoke.items()],
            "said": [[p, float(n)] for p, n in self.said.items()],
            "addressed": list(self.addressed),
            "relevance": [[p, float(r)] for p, r in self.relevance.items()],
            "left": list(self.left),
        }

    def load_turns(self, doc: dict[str, Any]) -> None:
        self.spoke = {p: t for p, t in doc.get("spoke", [])}
        self.said = {p: int(n) for p, n in doc.get("said", [])}
        self.addressed = tuple(doc.get("addressed", []))
        self.relevance = {p: r for p, r in doc.get("relevance", [])}
        self.left = tuple(doc.get("left", []))

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "creator": self.creator,
            "created": float(self.created),
            "numMessages": float(self.num_messages),
            "participants": [p.to_doc() for p in self.participants.values()],
        }
        if self.typing is not None:
            player, uuid, since = self.typing
            doc["isTyping"] = {"playerId": player, "messageUuid": uuid, "since": float(since)}
        if self.last_message is not None:
            doc["lastMessage"] = {
                "author": self.last_message[0],
                "timestamp": float(self.last_message[1]),
            }
        return doc


@dataclass
class Operation:
    name: str
    operation_id: str
    started: float

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "operationId": self.operation_id, "started": float(self.started)}


@dataclass
class Agent:
    id: str
    player_id: str
    to_remember: str | None = None
    last_conversation: float | None = None
    last_invite_attempt: float | None = None
    operation: Operation | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "playerId": self.player_id}
        if self.to_remember is not None:
            doc["toRemember"] = self.to_remember
        if self.last_conversation is not None:
            doc["lastConversation"] = float(self.last_conversation)
        if self.last_invite_attempt is not None:
            doc["lastInviteAttempt"] = float(self.last_invite_attempt)
        if self.operation is not None:
            doc["inProgressOperation"] = self.operation.to_doc()
        return doc


@dataclass
class PlanItem:
    """One thing a resident means to do today: from ``start`` (minute of the day) at a
    named place (its tile), doing ``activity``; ``steps`` are its short sub-steps (None:
    not broken down yet, [] asked for and none came)."""

    start: int
    place: str
    x: int
    y: int
    activity: str
    emoji: str | None = None
    steps: list[str] | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "start": float(self.start),
            "place": self.place,
            "x": float(self.x),
            "y": float(self.y),
            "activity": self.activity,
        }
        if self.emoji is not None:
            doc["emoji"] = self.emoji
        if self.steps is not None:
            doc["steps"] = list(self.steps)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PlanItem:
        steps = doc.get("steps")
        return cls(
            int(doc["start"]),
            doc["place"],
            int(doc["x"]),
            int(doc["y"]),
            doc["activity"],
            doc.get("emoji"),
            None if steps is None else list(steps),
        )


@dataclass
class Plan:
    """A resident's plan for one game day (``day``: days since the epoch), and whether it
    wants planning again (``replan``: why), when it last asked (``asked``, ms) and the
    operation asking (``pending``: planning never occupies the agent itself); ``events``:
    what it heard of for day ``events_day`` (a party at five), kept in any plan of it."""

    agent_id: str
    day: int = -1
    items: list[PlanItem] = field(default_factory=list)
    replan: str | None = None
    asked: float | None = None
    made: float | None = None
    replans: int = 0
    pending: str | None = None
    events: list[PlanItem] = field(default_factory=list)
    events_day: int = -1

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "agentId": self.agent_id,
            "day": float(self.day),
            "items": [item.to_doc() for item in self.items],
            "replans": float(self.replans),
        }
        if self.replan is not None:
            doc["replan"] = self.replan
        if self.asked is not None:
            doc["asked"] = float(self.asked)
        if self.made is not None:
            doc["made"] = float(self.made)
        if self.pending is not None:
            doc["pending"] = self.pending
        if self.events:
            doc["events"] = [item.to_doc() for item in self.events]
            doc["eventsDay"] = float(self.events_day)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Plan:
        return cls(
            doc["agentId"],
            int(doc.get("day", -1)),
            [PlanItem.from_doc(item) for item in doc.get("items", [])],
            doc.get("replan"),
            doc.get("asked"),
            doc.get("made"),
            int(doc.get("replans", 0)),
            doc.get("pending"),
            [PlanItem.from_doc(item) for item in doc.get("events", [])],
            int(doc.get("eventsDay", -1)),
        )


@dataclass
class World:
    next_id: int = 0
    players: dict[str, Player] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    #: when each pair of players last finished talking, "p:1|p:2" (sorted) -> ms
    recent_pairs: dict[str, float] = field(default_factory=dict)
    #: the last step's packed location history per player (``history.py``), for AI Town's
    #: page; each step replaces it, the engine never reads it (players who left have none)
    historical_locations: dict[str, bytes] = field(default_factory=dict)
    #: each resident's plan for the day, by agent id (``plans.py``); bookkeeping, like
    #: ``recent_pairs``, kept beside AI Town's document
    plans: dict[str, Plan] = field(default_factory=dict)
    # Lookups by player, kept by the add/remove methods below (not part of the document).
    _conversation_of: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _agent_of: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def add_conversation(self, conversation: Conversation) -> None:
        self.conversations[conversation.id] = conversation
        for player_id in conversation.participants:
            self._conversation_of[player_id] = conversation.id

    def add_member(self, conversation: Conversation, participant: Participant) -> None:
        conversation.participants[participant.player_id] = participant
        self._conversation_of[participant.player_id] = conversation.id

    def remove_member(self, conversation: Conversation, player_id: str) -> None:
        conversation.participants.pop(player_id, None)
        if self._conversation_of.get(player_id) == conversation.id:
            del self._conversation_of[player_id]

    def remove_conversation(self, conversation: Conversation) -> None:
        self.conversations.pop(conversation.id, None)
        for player_id in conversation.participants:
            if self._conversation_of.get(player_id) == conversation.id:
                del self._conversation_of[player_id]

    def add_agent(self, agent: Agent) -> None:
        self.agents[agent.id] = agent
        self._agent_of[agent.player_id] = agent.id

    def remove_agent(self, agent: Agent) -> None:
        self.agents.pop(agent.id, None)
        self.plans.pop(agent.id, None)
        self._agent_of.pop(agent.player_id, None)

    def allocate_id(self, prefix: str) -> str:
        id = f"{prefix}:{self.next_id}"
        self.next_id += 1
        return id

    def conversation_of(self, player_id: str) -> Conversation | None:
        id = self._conversation_of.get(player_id)
        return None if id is None else self.conversations.get(id)

    def agent_of(self, player_id: str) -> Agent | None:
        id = self._agent_of.get(player_id)
        return None if id is None else self.agents.get(id)

    def bookkeeping(self) -> list[dict[str, Any]]:
        """What the world keeps beyond AI Town's document: when pairs last talked, and
        whose turn it may be in each group conversation."""
        kept: list[dict[str, Any]] = [
            {"pair": pair, "ended": float(ended)} for pair, ended in self.recent_pairs.items()
        ]
        for conversation in self.conversations.values():
            turns = conversation.turns_doc()
            if turns is not None:
                kept.append(turns)
        return kept

    def plans_bookkeeping(self) -> list[dict[str, Any]]:
        """The residents' plans, kept beside AI Town's document as ``bookkeeping`` is."""
        return [plan.to_doc() for plan in self.plans.values()]

    def to_document(self, bookkeeping: bool = False) -> dict[str, Any]:
        """AI Town's ``worlds`` document; with ``bookkeeping``, the whole world (for
        smalltown's own tables)."""
        doc: dict[str, Any] = {
            "nextId": float(self.next_id),
            "players": [p.to_doc() for p in self.players.values()],
            "agents": [a.to_doc() for a in self.agents.values()],
            "conversations": [c.to_doc() for c in self.conversations.values()],
        }
        if bookkeeping:
            doc["smalltownRecentPairs"] = self.bookkeeping()
            doc["smalltownPlans"] = self.plans_bookkeeping()
        if self.historical_locations:  # in the players' order, as they are stored
            doc["historicalLocations"] = [
                {"playerId": player_id, "location": self.historical_locations[player_id]}
                for player_id in self.players
                if player_id in self.historical_locations
            ]
        return doc

    @classmethod
    def from_document(
        cls,
        doc: dict[str, Any],
        recent_pairs: list[dict[str, Any]] | None = None,
        plans: list[dict[str, Any]] | None = None,
    ) -> World:
        """The world from its document, with its bookkeeping: ``recent_pairs`` and
        ``plans`` when given, else the document's own."""
        world = cls(next_id=int(doc.get("nextId", 0)))
        for p in doc.get("players", []):
            world.players[p["id"]] = _player(p)
        for a in doc.get("agents", []):
            op = a.get("inProgressOperation")
            world.add_agent(
                Agent(
                    id=a["id"],
                    player_id=a["playerId"],
                    to_remember=a.get("toRemember"),
                    last_conversation=a.get("lastConversation"),
                    last_invite_attempt=a.get("lastInviteAttempt"),
                    operation=None
                    if op is None
                    else Operation(op["name"], op["operationId"], op["started"]),
                )
            )
        for c in doc.get("conversations", []):
            typing = c.get("isTyping")
            last = c.get("lastMessage")
            world.add_conversation(
                Conversation(
                    id=c["id"],
                    creator=c["creator"],
                    created=c["created"],
                    num_messages=int(c.get("numMessages", 0)),
                    typing=None
                    if typing is None
                    else (typing["playerId"], typing["messageUuid"], typing["since"]),
                    last_message=None if last is None else (last["author"], last["timestamp"]),
                    participants={
                        p["playerId"]: Participant(
                            p["playerId"],
                            p["invited"],
                            p["status"]["kind"],
                            p["status"].get("started"),
                        )
                        for p in c["participants"]
                    },
                )
            )
        pairs = doc.get("smalltownRecentPairs", []) if recent_pairs is None else recent_pairs
        for entry in pairs:
            if "pair" in entry:
                world.recent_pairs[entry["pair"]] = entry["ended"]
            elif (conversation := world.conversations.get(entry["conversation"])) is not None:
                conversation.load_turns(entry)
        for entry in doc.get("smalltownPlans", []) if plans is None else plans:
            if entry["agentId"] in world.agents:
                world.plans[entry["agentId"]] = Plan.from_doc(entry)
        for entry in doc.get("historicalLocations", []):
            world.historical_locations[entry["playerId"]] = bytes(entry["location"])
        return world


def pair_key(a: str, b: str) -> str:
    return "|".join(sorted((a, b)))


def _player(p: dict[str, Any]) -> Player:
    pathfinding = None
    if (pf := p.get("pathfinding")) is not None:
        state = pf["state"]
        pathfinding = Pathfinding(
            destination=Point(pf["destination"]["x"], pf["destination"]["y"]),
            started=pf["started"],
            kind=state["kind"],
            until=state.get("until", 0.0),
            path=[tuple(w) for w in state.get("path", [])],
        )
    activity = None
    if (act := p.get("activity")) is not None:
        activity = Activity(act["description"], act.get("emoji"), act["until"])
    return Player(
        id=p["id"],
        position=Point(p["position"]["x"], p["position"]["y"]),
        facing=Facing(p["facing"]["dx"], p["facing"]["dy"]),
        speed=p.get("speed", 0.0),
        last_input=p.get("lastInput", 0.0),
        human=p.get("human"),
        pathfinding=pathfinding,
        activity=activity,
    )
