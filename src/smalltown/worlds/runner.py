"""The world runner: one engine loop per running world, inside the server process.

Each step reads the world, its map and the inputs queued since the last step, runs the
pure engine, and saves everything the step changed in one transaction: the parts of the
world that changed (``parts.py``), the engine's clock and input cursor, each input's
result, new descriptions, the archive of ended conversations, and a step record with the
bytes the transaction wrote. An input is acknowledged (has a result) only once that
transaction commits, so a crash loses no acknowledged input: the next run resumes from the
last saved step. ``generationNumber`` fences off a second runner of the same world.

Several processes on one database each run a runner; each world is stepped by the one that
holds its lease (``smalltownLeases``: holder and expiry, wall clock). The holder renews it
once less than half is left, whether or not the world is due; when the holder stops,
another takes the world over once the lease expires (``LEASE_MS``: so within that and one
step, measured in ``tests/server/test_failover.py``), from the last saved step, or at once
if the holder was a process on this host that is gone (a restarted server takes back its
killed predecessor's worlds without waiting, and another process of the host takes them
over as soon as their holder dies).

Game time is the engine's own: a runner that takes a world up continues its clock from the
stored engine time, whatever its own start, so a restart at a high time scale does not
leave the world waiting for the new process's clock to catch up.

A runner sleeps until the next step of the worlds it holds falls due, and keeps each such
world (and its map) in memory from one step to the next (:class:`Kept`). Each step record
says how late the step began against when it was due (``lateness``, wall ms) and how long
it took (``wallMs``), which ``smalltown bench town`` reads from any process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from smalltown.engine.constants import STEP_MS
from smalltown.engine.engine import ENGINE_VERSION, Input, StepResult, step
from smalltown.engine.state import World
from smalltown.engine.world_map import WorldMap
from smalltown.runtime import FunctionError
from smalltown.runtime.context import Scheduler
from smalltown.runtime.stopping import stop_tasks
from smalltown.store import Range, Transaction
from smalltown.worlds import parts
from smalltown.worlds.parts import Stored

log = logging.getLogger("smalltown.worlds.runner")
T = TypeVar("T")
IDLE_MS = 5 * 60_000  # a world nobody has viewed for this long goes to sleep
BATCH = 32
#: steps between checkpoints (an hour of one-second steps): where replay can start once
#: older history is pruned (``history.py``)
CHECKPOINT_STEPS = 3600
#: steps a late runner catches up on one after another; a world further behind (it slept,
#: or was stopped) skips the time it missed
CATCH_UP_STEPS = 5
#: how long a world's lease lasts unrenewed (wall clock, ms): how soon another process
#: takes over a world whose runner stopped; renewed once less than half of it is left.
#: Shorter means a faster failover but a lease lost to a database pause that long (the
#: world then changes hands, fenced by ``generationNumber``: no step is run twice)
LEASE_MS = 6_000
#: at most this long (s) between two looks at the worlds: how soon a new or woken world is
#: taken up; a world held here is stepped when it falls due, not at the next look
LOOK_S = 0.25
#: how long (s) a world stepped on here is kept in memory before it is read afresh
KEEP_S = 60.0

#: the app's module of actions that engine operations run as (AI Town's path)
OPERATIONS = "aiTown/agentOperations"

OperationHandler = Callable[[str, list], Any]
#: told after each step: (world id, wall seconds the step took, its result)
StepObserver = Callable[[str, float, StepResult], None]


@dataclass(frozen=True)
class StepTiming:
    """A step's timing, for its record: how late it began against when it was due (wall
    ms; 0 for a step on time or early), and when it began (``perf_counter``)."""

    lateness: float
    started: float

    def fields(self) -> dict[str, float]:
        """``lateness``, and ``wallMs``: the step's wall time so far (loading the world,
        the engine, the documents saved), all of it but the commit's round trip."""
        wall = (time.perf_counter() - self.started) * 1000
        return {"lateness": float(self.lateness), "wallMs": float(wall)}


@dataclass
class Kept:
    """A world as this runner last saved it, kept in memory while it steps the world on:
    a step then reads only the engine, the inputs and bookkeeping, not the world document
    and its map (on a crowded map, most of a step's work). It is trusted while the stored
    engine's generation and time are the ones its save wrote (no other runner stepped the
    world since), and for ``KEEP_S`` at most: an import may replace a running world's map,
    and is seen that long after."""

    world: World
    world_map: WorldMap
    generation: float = -1.0
    end: float = -1.0  # the game time its last step ended
    since: float = field(default_factory=time.monotonic)

    def current(self, engine: dict[str, Any]) -> bool:
        return (engine["generationNumber"], engine["currentTime"]) == (self.generation, self.end)

    def saved(self, engine: dict[str, Any], end_time: float) -> None:
        """The step that loaded ``engine`` was saved, ending at ``end_time``."""
        self.generation, self.end = engine["generationNumber"] + 1, end_time


class StaleEngine(Exception):
    """Another runner stepped this world since we loaded it."""


@dataclass
class Loaded:
    status: dict[str, Any]
    world: Stored
    engine: dict[str, Any]
    world_map: dict[str, Any]
    inputs: list[dict[str, Any]]
    #: the world's row in ``smalltownWorlds`` (its seed and step count);
    #: None for a world that has none yet (imported, or made by an older version)
    own: dict[str, Any] | None = None

    @property
    def seed(self) -> int:
        return int((self.own or {}).get("seed", self.engine.get("smalltownSeed", 0)))

    @property
    def step(self) -> int:
        """How many steps the world has taken."""
        return int((self.own or {}).get("step", self.engine.get("smalltownStep", 0)))


def now_ms() -> float:
    return time.time() * 1000


class WorldRunner:
    def __init__(
        self,
        runtime,
        step_ms: float = STEP_MS,
        on_operations: OperationHandler | None = None,
        clock: Callable[[], float] | None = None,
        time_scale: float = 1.0,
        checkpoint_steps: int = CHECKPOINT_STEPS,
        lease_ms: float = LEASE_MS,
    ) -> None:
        """``clock`` gives game time (tests pass their own, which then is wall time too);
        otherwise game time runs ``time_scale`` times as fast as the wall clock, which is
        what viewing (``lastViewed``) is measured against."""
        self._runtime = runtime
        self._step_ms = step_ms
        self._on_operations = on_operations
        self._checkpoint_steps = checkpoint_steps
        self._lease_ms = lease_ms
        # this runner, as a lease names it: readable (`smalltown worlds list`), and unique
        # (the tag ends with the pid namespace: only a process in ours can be seen to be gone)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}.{_NAMESPACE}"
        # world -> when the other runner's lease expires, and that runner
        self._held_elsewhere: dict[str, tuple[float, str]] = {}
        self._held_until: dict[str, float] = {}  # world held here -> when its lease expires
        # world -> game ms added to this runner's clock: set when the world is taken up, so
        # its game time continues from the stored engine time (another process's clock)
        self._offsets: dict[str, float] = {}
        # world held here -> its generation and its parts as this runner last saved them:
        # while the engine's generation is that one, nobody else stepped it, and the
        # next step need not read them back
        self._saved: dict[str, tuple[float, Stored]] = {}
        self.lease_checks = 0  # transactions asking about leases (tests)
        if clock is not None:
            self._clock, self._wall = clock, clock
            self._scale = 1.0
        else:
            origin = now_ms()
            self._clock = lambda: origin + (now_ms() - origin) * time_scale
            self._wall = now_ms
            self._scale = time_scale
        self._task: asyncio.Task | None = None
        self._next_due = math.inf  # when (monotonic s) the next step held here falls due
        self._kept: dict[str, Kept] = {}  # world -> as it was saved here last
        self._ends: dict[str, float] = {}  # world -> the game time its last step here ended
        self.steps = 0
        self.rounds = 0  # passes over the worlds, stepped or not
        self.observers: list[StepObserver] = []  # for benchmarks: step time, operations

    async def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="smalltown-world-runner")

    async def close(self) -> None:
        await stop_tasks([self._task], "the world runner")
        try:  # hand the worlds on at once rather than when the leases expire
            await asyncio.wait_for(
                self._runtime.store.delete_all(
                    "smalltownLeases", index="owner", eq={"owner": self.owner}
                ),
                2.0,  # (they expire by themselves: a stop must not wait on a lost database)
            )
        except Exception as exc:
            log.warning("could not release this runner's world leases: %r", exc)

    async def _forever(self) -> None:
        while True:
            self._next_due = math.inf
            try:
                await self.run_due()
            except Exception:
                log.exception("a world step failed; trying again next step")
            await asyncio.sleep(self._pause())

    def _pause(self) -> float:
        """Seconds until the next round: when the next step held here falls due, so that it
        begins on time, but no longer than ``LOOK_S`` (or a step), in which a new or woken
        world, or one whose runner stopped, is taken up."""
        look = min(LOOK_S, self._step_ms / 1000)
        # (a millisecond over: a timer may fire that much early, and find nothing due yet)
        return max(0.0, min(look, self._next_due + 0.001 - time.monotonic()))

    def _due_in(self, world_id: str, engine_time: float, now: float) -> float:
        """Game ms until the step after ``engine_time`` is due (<= 0: due now), noting when
        it falls due for the next round."""
        wait = engine_time + self._step_ms - now - self._offsets.get(world_id, 0.0)
        self._next_due = min(self._next_due, time.monotonic() + wait / self._scale / 1000)
        return wait

    async def run_due(self) -> int:
        """Step every running world whose next step is due; how many were stepped."""
        statuses = await self._runtime.store.read(lambda tx: tx.query("worldStatus"))
        self.rounds += 1
        stepped = 0
        now, wall = self._clock(), self._wall()
        for status in statuses:
            if status["status"] != "running":
                self._let_go(status["worldId"])
                continue
            if wall - status["lastViewed"] > IDLE_MS:
                self._let_go(status["worldId"])
                await self._runtime.store.run(lambda tx, s=status: _sleep(tx, s["_id"]))
                log.info("world %s sleeps: nobody has viewed it for 5 minutes", status["worldId"])
                continue
            expires, holder = self._held_elsewhere.get(status["worldId"], (0.0, ""))
            if expires > wall and not _gone(holder):
                # another process runs it: not asked again before its lease ends, unless
                # that process (one of this host) is seen to be gone
                continue
            world_id = status["worldId"]
            engine = await self._runtime.store.read(
                lambda tx, s=status: tx.get(s["engineId"], table="engines")
            )
            if not engine:
                continue
            if world_id not in self._offsets:  # not held here yet: take it up
                if not await self._hold(world_id, wall):
                    continue  # another process runs this world
                self._offsets[world_id] = max(0.0, engine.get("currentTime", 0) - now)
            elif self._renewal_due(world_id, wall) and not await self._hold(world_id, wall):
                continue  # it ran out and another process took it
            if self._due_in(world_id, engine.get("currentTime", 0), now) > 0:
                continue
            try:
                result = await self.step_world(world_id)
                self._due_in(world_id, result.end_time, self._clock())
            except StaleEngine as exc:  # the lease changed hands while this step ran
                log.info("%s; leaving it to that runner", exc)
                self._saved.pop(world_id, None)
                self._offsets.pop(world_id, None)
                self._held_until.pop(world_id, None)
                self._let_go(world_id)
                continue
            stepped += 1
        return stepped

    def _renewal_due(self, world_id: str, wall: float) -> bool:
        """Whether less than half of the lease held here is left: it is renewed then,
        whether or not the world is due (a step may be longer than a lease)."""
        return self._held_until.get(world_id, 0.0) - wall < self._lease_ms / 2

    async def _hold(self, world_id: str, wall: float) -> bool:
        """Whether this runner holds ``world_id``'s lease, taking it if it is free or
        expired, and renewing it once less than half is left."""

        async def hold(tx: Transaction) -> tuple[bool, float, str]:
            """Whether it is held here, when the lease (here or elsewhere) expires, and
            who holds it."""
            lease = await tx.first("smalltownLeases", "worldId", eq={"worldId": world_id})
            until = wall + self._lease_ms
            fields = {"worldId": world_id, "owner": self.owner, "expires": until}
            if lease is None:
                await tx.insert("smalltownLeases", fields)
                return True, until, self.owner
            if lease["owner"] != self.owner and lease["expires"] > wall:
                if not _gone(lease["owner"]):
                    return False, lease["expires"], lease["owner"]
                log.warning("world %s: its runner's process %s is gone", world_id, lease["owner"])
            if lease["owner"] != self.owner or lease["expires"] - wall < self._lease_ms / 2:
                await tx.replace(lease["_id"], fields)
                if lease["owner"] != self.owner:
                    log.warning("world %s: taken over from a runner that stopped", world_id)
                return True, until, self.owner
            return True, lease["expires"], self.owner

        self.lease_checks += 1
        mine, expires, holder = await self._runtime.store.run(hold)
        if mine:
            self._held_elsewhere.pop(world_id, None)
            self._held_until[world_id] = expires
            return True
        self._held_elsewhere[world_id] = (expires, holder)
        self._held_until.pop(world_id, None)
        self._saved.pop(world_id, None)
        self._offsets.pop(world_id, None)  # taken up afresh if it comes back here
        self._let_go(world_id)
        return False

    async def step_world(self, world_id: str) -> StepResult:
        store = self._runtime.store
        started = time.perf_counter()
        began = self._clock() + self._offsets.get(world_id, 0.0)  # game time
        kept = self._kept.pop(world_id, None)  # (dropped unless this step saves)
        if kept is not None and time.monotonic() - kept.since > KEEP_S:
            kept = None
        saved = self._saved.get(world_id)
        loaded = await store.read(lambda tx: _load(tx, world_id, saved, whole=kept is None))
        engine = loaded.engine
        # stepped elsewhere meanwhile, or its stored world replaced (an import over it)
        if kept is not None and (
            not kept.current(engine) or saved is None or loaded.world is not saved[1]
        ):
            kept = None
            loaded = await store.read(lambda tx: _load(tx, world_id))
            engine = loaded.engine
        if kept is None:
            kept = Kept(
                World.from_document(loaded.world.document),
                WorldMap.from_document(loaded.world_map),
            )
        world = kept.world
        inputs = [Input(int(i["number"]), i["name"], i["args"]) for i in loaded.inputs]
        # A world that slept or was stopped skips the time it missed rather than
        # replaying it step by step; a runner merely late (a busy machine) steps on from
        # where the last step ended and catches up, so game time has no gaps: a walker
        # would jump across one (AI Town's page plays each step's locations back).
        now = self._clock() + self._offsets.get(world_id, 0.0)
        start = engine["currentTime"]
        if now - start > self._step_ms * (1 + CATCH_UP_STEPS):
            start = now - self._step_ms
        result = step(
            world,
            kept.world_map,
            inputs,
            start,
            seed=loaded.seed,
            step_number=loaded.step,
            duration=self._step_ms,
        )
        schedule = None if self._on_operations is not None else self._schedule
        checkpoint = (loaded.step + 1) % self._checkpoint_steps == 0
        timing = StepTiming(self._lateness(world_id, engine, began), started)
        stored = await store.run(
            lambda tx: _save(tx, loaded, world, result, schedule, checkpoint, timing)
        )
        self._saved[world_id] = (engine["generationNumber"] + 1, stored)
        kept.saved(engine, result.end_time)
        self._kept[world_id] = kept
        self._ends[world_id] = result.end_time
        self.steps += 1
        for observe in self.observers:
            observe(world_id, time.perf_counter() - started, result)
        if result.operations and self._on_operations is not None:
            self._on_operations(world_id, result.operations)
        return result

    def _lateness(self, world_id: str, engine: dict[str, Any], began: float) -> float:
        """How late (wall ms) a step that began at game time ``began`` is against when it
        was due: when the game time its world's last step here covered, plus a step, came.
        0 for the first step after taking a world up (or waking it): it was due then."""
        if self._ends.get(world_id) != engine["currentTime"]:
            return 0.0
        return max(0.0, began - engine["currentTime"] - self._step_ms) / self._scale

    def _let_go(self, world_id: str) -> None:
        """Forget what is kept of a world no longer stepped here (another runner has it,
        or it sleeps): when it comes back it is read afresh."""
        self._kept.pop(world_id, None)
        self._ends.pop(world_id, None)

    async def _schedule(self, tx: Transaction, world_id: str, operation) -> None:
        """An operation becomes a durable job in the step's own transaction."""
        path = f"{OPERATIONS}:{operation.name}"
        try:
            self._runtime.registry.get(path, public_only=False)
        except FunctionError:
            log.warning("no function %s for operation %s; dropped", path, operation.name)
            return
        args = {"worldId": world_id, "operationId": operation.operation_id, **operation.args}
        await Scheduler(self._runtime, tx).run_at(now_ms(), path, args)


def _pid_namespace() -> str:
    """This process's pid namespace (Linux), or "" where it cannot be told: two containers
    may share a host name yet not see each other's processes."""
    try:
        return "".join(c for c in os.readlink("/proc/self/ns/pid") if c.isdigit())
    except OSError:
        return ""


_NAMESPACE = _pid_namespace()


def _gone(owner: str) -> bool:
    """Whether the runner ``owner`` names (``host:pid:tag.namespace``) surely stopped: a
    process of this host and pid namespace that no longer exists. Anything else (another
    host or namespace, a live process, an owner in another form) counts as alive, so its
    lease is waited out: two live processes never both step a world. (A reused pid only
    makes us wait, the safe way round.)"""
    host, _, rest = owner.partition(":")
    pid, _, tag = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    if not _NAMESPACE or tag.rpartition(".")[2] != _NAMESPACE:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but not ours to signal
        return False
    return False


async def _sleep(tx: Transaction, status_id: str) -> None:
    await tx.patch(status_id, {"status": "inactive"})


def _found(document: T | None, world_id: str, what: str) -> T:
    """``document``, which a world being stepped must have."""
    if document is None:
        raise LookupError(f"world {world_id} has no {what}")
    return document


async def _load(
    tx: Transaction,
    world_id: str,
    saved: tuple[float, Stored] | None = None,
    whole: bool = True,
) -> Loaded:
    """What a step of ``world_id`` starts from; ``saved``: the world's generation and its
    parts as last saved here, which stand for the stored ones while it is the engine's.
    Not ``whole``: without the map, which the runner keeps (empty in what is returned)."""
    status = _found(
        await tx.first("worldStatus", "worldId", eq={"worldId": world_id}), world_id, "status"
    )
    engine = _found(await tx.get(status["engineId"], table="engines"), world_id, "engine")
    inputs = await tx.query(
        "inputs",
        "byInputNumber",
        eq={"engineId": status["engineId"]},
        range=Range("number", gt=engine["processedInputNumber"]),
        limit=BATCH,
    )
    own = await tx.first(parts.OWN, "worldId", eq={"worldId": world_id})
    known = saved[1] if saved is not None and saved[0] == engine["generationNumber"] else None
    return Loaded(
        status=status,
        world=_found(await parts.load(tx, world_id, own, known), world_id, "world document"),
        engine=engine,
        world_map=_found(
            await tx.first("maps", "worldId", eq={"worldId": world_id}), world_id, "map"
        )
        if whole
        else {},
        inputs=inputs,
        own=own,
    )


async def _save(
    tx: Transaction,
    loaded: Loaded,
    world: World,
    result: StepResult,
    schedule=None,
    checkpoint: bool = False,
    timing: StepTiming | None = None,
) -> Stored:
    """Save a step; the world's parts as now stored."""
    world_id, engine = loaded.status["worldId"], loaded.engine
    current = _found(await tx.get(engine["_id"], table="engines"), world_id, "engine")
    if current["generationNumber"] != engine["generationNumber"]:
        raise StaleEngine(f"world {world_id} was stepped by another runner")
    document = world.to_document(bookkeeping=True)
    saved = await parts.save(tx, world_id, loaded.world, document)
    own = {"worldId": world_id, "seed": float(loaded.seed), "step": float(loaded.step + 1)}
    if loaded.own is None:
        await tx.insert(parts.OWN, own)
    elif "recentPairs" in loaded.own or "plans" in loaded.own:  # its bookkeeping, until now
        await tx.replace(loaded.own["_id"], own)
    else:
        await tx.patch(loaded.own["_id"], {"step": own["step"]})
    processed = loaded.inputs[-1]["number"] if loaded.inputs else engine["processedInputNumber"]
    if checkpoint:
        await tx.insert(
            "smalltownCheckpoints",
            {
                "worldId": world_id,
                "step": float(loaded.step),
                "lastInput": float(processed),
                "time": float(result.end_time),
                "world": document,
            },
        )
    await tx.patch(
        engine["_id"],
        {
            "currentTime": float(result.end_time),
            # AI Town's meaning: the previous step's game time, so that the page's
            # playback intervals (lastStepTs, currentTime] follow one another
            "lastStepTs": float(engine["currentTime"]),
            "processedInputNumber": float(processed),
            "generationNumber": float(engine["generationNumber"] + 1),
        },
    )
    for item in loaded.inputs:
        outcome = result.results.get(int(item["number"]))
        if outcome is None:
            continue
        await tx.patch(item["_id"], {"returnValue": outcome})
        if outcome["kind"] == "ok":
            await _describe(tx, world_id, item, outcome["value"])
        elif item["name"] in LINE_FINISHES:
            await _unsay(tx, world_id, item["args"])
    for conversation in result.archived_conversations:
        await tx.insert("archivedConversations", {"worldId": world_id, **conversation})
        everyone = conversation["participants"]
        for i, a in enumerate(everyone):  # every pair, a group's too
            for b in everyone[i + 1 :]:
                for p1, p2 in ((a, b), (b, a)):
                    await tx.insert(
                        "participatedTogether",
                        {
                            "worldId": world_id,
                            "conversationId": conversation["id"],
                            "player1": p1,
                            "player2": p2,
                            "ended": conversation["ended"],
                        },
                    )
    for player in result.archived_players:
        await tx.insert("archivedPlayers", {"worldId": world_id, **player})
    if schedule is not None:
        for operation in result.operations:
            await schedule(tx, world_id, operation)
    # last, so that it can record the bytes the whole step wrote, its own included
    await tx.insert_measured(
        "smalltownSteps",
        {
            "worldId": world_id,
            "step": float(loaded.step),
            "start": float(result.end_time - result.duration),
            "duration": float(result.duration),
            "lastInput": float(processed),
            "engineVersion": float(ENGINE_VERSION),
            **(timing.fields() if timing is not None else {}),
        },
        "bytesWritten",
    )
    return saved


#: the inputs that count a line already in ``messages``: refused, the line goes with them
LINE_FINISHES = ("finishSendingMessage", "agentFinishMessage")


async def _unsay(tx: Transaction, world_id: str, args: dict[str, Any]) -> None:
    """Take back a line whose counting input the engine refused (its speaker had left, or
    the talk had ended, as it was written): a conversation's messages are the ones its
    ``numMessages`` counts, and no refused line reaches a listener's prompt."""
    conversation, uuid = args.get("conversationId"), args.get("messageUuid")
    if not isinstance(conversation, str) or not isinstance(uuid, str):
        return
    lines = await tx.query(
        "messages", "conversationId", eq={"worldId": world_id, "conversationId": conversation}
    )
    for line in lines:
        if line["messageUuid"] == uuid:
            await tx.delete(line["_id"])


async def _describe(tx: Transaction, world_id: str, item: dict[str, Any], value: Any) -> None:
    """Names and characters travel with the inputs that create players."""
    args = item["args"]
    if item["name"] == "join":
        player_id = value
    elif item["name"] == "createAgent":
        player_id = value["playerId"]
        await tx.insert(
            "agentDescriptions",
            {
                "worldId": world_id,
                "agentId": value["agentId"],
                "identity": args.get("identity", ""),
                "plan": args.get("plan", ""),
            },
        )
    else:
        return
    name = args.get("name") or player_id
    await tx.insert(
        "playerDescriptions",
        {
            "worldId": world_id,
            "playerId": player_id,
            "name": name,
            # never empty: AI Town's page shows it as who the player is (an agent's is
            # its identity, as AI Town's are)
            "description": args.get("description")
            or args.get("identity")
            or f"{name} lives in the town.",
            "character": args.get("character", ""),
        },
    )
