"""The durable scheduler and crons.

Jobs live in the ``_scheduled_functions`` table, written by ``ctx.scheduler`` in the
scheduling mutation's own transaction: a mutation that rolls back schedules nothing, and a
job survives restarts. States follow Convex: ``pending`` → ``inProgress`` (actions only)
→ ``success`` | ``failed`` (with the error) | ``canceled``.

A scheduled mutation runs in the same transaction that marks its job done, so it runs
exactly once, whichever process (or how many) picks it up. An action is claimed first
(``inProgress``, naming the worker that claimed it) and never retried: one interrupted
by a crash is marked failed, as Convex does. Several processes may share the database,
so "interrupted" means its worker is gone: each worker keeps a heartbeat row
(``_smalltown_workers``) alive while it runs and removes it when it stops, and every
worker looks, as it starts and then every minute, for actions whose worker has no live
heartbeat. A worker also fails its own claims that no action of its runs (the claim
committed, but the database went away before the worker heard so), looking again as soon
as the database answers after it went away. An action that ended while the database was
away has its result written once it is back: no job stays ``inProgress`` without an
action running for it.

Crons are declared in code (an app's ``crons`` module) and kept in ``_cron_jobs`` with
their next run time; each run is scheduled as a job by a transaction that also moves the
next run time on, so a cron fires once per period across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from smalltown.runtime.auth import ADMIN
from smalltown.runtime.context import SCHEDULED, AuthContext, MutationCtx, Scheduler
from smalltown.runtime.errors import FunctionError
from smalltown.runtime.functions import FunctionSpec
from smalltown.runtime.runtime import Runtime
from smalltown.runtime.stopping import stop_tasks
from smalltown.store import (
    ConflictError,
    Range,
    Store,
    StoreConnectionError,
    Transaction,
    Write,
)

log = logging.getLogger("smalltown.runtime.scheduler")
CRONS = "_cron_jobs"
WORKERS = "_smalltown_workers"
BATCH = 64
#: a worker's heartbeat lasts this long (ms), renewed every third of it; an action whose
#: worker's heartbeat has run out was interrupted
HEARTBEAT_MS = 30_000
CLEANUP_SECONDS = 2.0  # what a stop waits, at most, to remove the heartbeat
ORPHANS_EVERY_MS = 60_000
#: seconds between attempts at writing an action's result while the database is away
RESULT_RETRY_SECONDS = 1.0
#: a finished job (succeeded, failed or canceled) is kept this long, as Convex keeps
#: scheduled functions' results, then deleted: a town schedules one a second or more
KEEP_FINISHED_MS = 7 * 86_400_000
TIDY_EVERY_MS = 3_600_000
FINISHED = ("success", "failed", "canceled")


def now_ms() -> float:
    return time.time() * 1000


@dataclass(frozen=True)
class CronSpec:
    name: str
    path: str
    args: dict[str, Any]
    seconds: float | None = None
    expression: str | None = None

    def describe(self) -> str:
        every = f"every {self.seconds} s" if self.seconds else f"cron {self.expression}"
        return f"{self.path} {every}"

    def next_after(self, ms: float) -> float:
        if self.seconds is not None:
            return ms + self.seconds * 1000
        if self.expression is None:
            raise ValueError(f"cron {self.name!r} has neither an interval nor an expression")
        base = datetime.fromtimestamp(ms / 1000, tz=UTC)
        return croniter(self.expression, base).get_next(datetime).timestamp() * 1000


@dataclass
class Crons:
    """Recurring jobs, declared in code:

    crons = Crons()
    crons.interval("tidy up", "maintenance:tidy", hours=1)
    crons.cron("nightly report", "0 3 * * *", "reports:nightly")
    """

    specs: dict[str, CronSpec] = field(default_factory=dict)

    def interval(
        self,
        name: str,
        path: str,
        args: dict[str, Any] | None = None,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
    ) -> None:
        total = seconds + 60 * minutes + 3600 * hours
        if total <= 0:
            raise ValueError(f"cron {name!r}: the interval must be positive")
        self._add(CronSpec(name, path, args or {}, seconds=total))

    def cron(
        self, name: str, expression: str, path: str, args: dict[str, Any] | None = None
    ) -> None:
        if not croniter.is_valid(expression):
            raise ValueError(f"cron {name!r}: {expression!r} is not a cron expression")
        self._add(CronSpec(name, path, args or {}, expression=expression))

    def _add(self, spec: CronSpec) -> None:
        if spec.name in self.specs:
            raise ValueError(f"cron {spec.name!r} is declared twice")
        self.specs[spec.name] = spec


class SchedulerWorker:
    """Runs due jobs and crons in the background of a server process."""

    def __init__(
        self,
        runtime: Runtime,
        crons: Crons | None = None,
        poll_seconds: float = 1.0,
        max_actions: int | None = None,
        commits: Callable[[Callable[[int, Sequence[Write]], None]], Callable[[], None]]
        | None = None,
    ) -> None:
        """``max_actions``: at most so many actions run here at once; due ones beyond
        stay pending, for whichever worker has room first (claimed here, an action that
        waits for something this process has too little of, LLM slots say, would hold its
        job while another process has room). ``commits``: how to hear of commits (an
        ``on_commit``), every process's where several share the database, so that a job
        another process schedules is run at once rather than at the next poll; by default
        the store's, this process's own."""
        self._runtime = runtime
        self._crons = crons or Crons()
        self._poll = poll_seconds
        self._max_actions = max_actions
        self._commits = commits
        self._full = False  # a pass left due actions pending: no room for them here
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: the actions this worker runs, by job id: its claims that are live
        self._actions: dict[str, asyncio.Task[None]] = {}
        self._detach: Callable[[], None] | None = None
        self.alive = False
        self.jobs_run = 0
        self._next_tidy = 0.0
        self._next_beat = 0.0
        self._next_orphans = 0.0
        self._outage: str | None = None  # why the database did not answer, while it does not
        self._claims_unsure = False  # a pass failed: a claim may have committed unheard
        #: this worker, as its heartbeat and its claimed actions name it
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def start(self) -> None:
        for spec in self._crons.specs.values():
            self._runtime.registry.get(spec.path, public_only=False)  # fail fast on typos
        await self._beat(now_ms())
        await self._runtime.store.run(self._fail_orphans)
        await self._runtime.store.run(self._sync_crons)
        self._detach = (self._commits or self._runtime.store.on_commit)(self._on_commit)
        self._task = asyncio.create_task(self._forever(), name="smalltown-scheduler")
        self.alive = True

    async def close(self) -> None:
        self.alive = False
        if self._detach:
            self._detach()
        await stop_tasks([self._task, *self._actions.values()], "the scheduler")
        try:  # its actions were cut short: the next look of any worker fails them
            await asyncio.wait_for(
                self._runtime.store.delete_all(WORKERS, index="by_worker", eq={"worker": self.id}),
                CLEANUP_SECONDS,
            )
        except Exception as exc:  # (it runs out by itself: a stop must not wait on it)
            log.warning("could not remove this scheduler's heartbeat: %r", exc)

    async def _beat(self, moment: float) -> None:
        """Keep this worker's heartbeat alive (it says its claimed actions still run)."""
        self._next_beat = moment + HEARTBEAT_MS / 3

        async def beat(tx: Transaction) -> None:
            found = await tx.first(WORKERS, "by_worker", eq={"worker": self.id})
            fields = {"worker": self.id, "expires": moment + HEARTBEAT_MS}
            if found is None:
                await tx.insert(WORKERS, fields)
            else:
                await tx.replace(found["_id"], fields)

        await self._runtime.store.run(beat)

    def _on_commit(self, ts: int, writes: Sequence[Write]) -> None:
        """A job scheduled or a cron changed, here or in another process: look again.
        (Jobs claimed and finished, by every worker of a busy town, wake no one: an
        action of this worker ending does, when it left due ones waiting for room.)"""
        if any(w.table == CRONS or (w.table == SCHEDULED and w.old_keys is None) for w in writes):
            self._wake.set()

    async def _forever(self) -> None:
        while True:
            try:
                next_due = await self._run_due()
                if self._outage is not None:
                    log.info("the database answers again; the scheduler goes on")
                    self._outage = None
            except StoreConnectionError as exc:
                if self._outage is None:
                    log.warning("the database does not answer (%s); the scheduler waits", exc)
                self._outage = str(exc)
                self._after_failure()
                next_due = None
            except Exception:
                log.exception("the scheduler loop failed; trying again")
                self._after_failure()
                next_due = None
            wait = self._poll
            if next_due is not None:
                wait = min(wait, max(0.0, (next_due - now_ms()) / 1000))
            self._wake.clear()
            # (not wait_for: on Python 3.11 it swallows a stop's cancel that comes as the
            # event is set, by a commit, and the stop then waits for ever)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    def _after_failure(self) -> None:
        """A pass failed midway (a claim may have committed unheard): once the database
        answers, renew the heartbeat first, then fail this worker's claims that no action
        runs for (only its own: the others' heartbeats may have run out meanwhile, and
        they renew theirs as they come back)."""
        self._next_beat = 0.0
        self._claims_unsure = True

    async def _run_due(self) -> float | None:
        """Run what is due; return when the next job or cron is due (ms), if known."""
        moment = now_ms()
        if moment >= self._next_beat:
            await self._beat(moment)
        if moment >= self._next_orphans:
            await self._runtime.store.run(self._fail_orphans)
            self._next_orphans = moment + ORPHANS_EVERY_MS
            self._claims_unsure = False
        elif self._claims_unsure:
            await self._runtime.store.run(lambda tx: self._fail_orphans(tx, others=False))
            self._claims_unsure = False
        if moment >= self._next_tidy:
            self._next_tidy = moment + TIDY_EVERY_MS
            await delete_finished(self._runtime.store, moment - KEEP_FINISHED_MS)
        due_crons = await self._runtime.store.read(lambda tx: tx.query(CRONS, "by_name"))
        for cron in due_crons:
            if cron["nextRun"] <= moment:
                await self._runtime.store.run(
                    functools.partial(self._fire_cron, cron_id=cron["_id"])
                )
        jobs = await self._runtime.store.read(
            lambda tx: tx.query(
                SCHEDULED,
                "by_state_time",
                eq={"state.kind": "pending"},
                range=Range("scheduledTime", lte=moment),
                limit=BATCH,
            )
        )
        self._full = False
        for job in jobs:
            await self._run_job(job)
        upcoming = await self._runtime.store.read(
            lambda tx: tx.first(SCHEDULED, "by_state_time", eq={"state.kind": "pending"})
        )
        crons = await self._runtime.store.read(lambda tx: tx.query(CRONS, "by_name"))
        times = [c["nextRun"] for c in crons]
        if self._full:  # what is due waits for room: an action of ours ending wakes us
            if self._has_room():  # (one ended during the pass)
                return now_ms()
            return min(times) if times else None
        if upcoming is not None:
            times.append(upcoming["scheduledTime"])
        if len(jobs) == BATCH:
            return now_ms()
        return min(times) if times else None

    async def _run_job(self, job: dict[str, Any]) -> None:
        try:
            spec = self._runtime.registry.get(job["name"], public_only=False)
        except FunctionError as exc:
            error = str(exc)
            await self._runtime.store.run(lambda tx: _finish(tx, job["_id"], error))
            return
        args = job["args"][0] if job["args"] else {}
        if spec.kind == "mutation":
            await self._run_mutation_job(job["_id"], spec, args)
        elif spec.kind == "action":
            if not self._has_room():
                self._full = True
                return
            claimed = await self._runtime.store.run(lambda tx: _claim(tx, job["_id"], self.id))
            if claimed:
                job_id = job["_id"]
                task = asyncio.create_task(self._run_action_job(job_id, spec.path, args))
                self._actions[job_id] = task
                task.add_done_callback(lambda done: self._action_done(job_id, done))
        else:
            await self._runtime.store.run(
                lambda tx: _finish(tx, job["_id"], f"{spec.path} is a query; schedule a mutation")
            )

    async def _run_mutation_job(
        self, job_id: str, spec: FunctionSpec, args: dict[str, Any]
    ) -> None:
        runtime = self._runtime
        try:
            kwargs = spec.validate(args)

            async def body(tx: Transaction) -> bool:
                job = await tx.get(job_id, table=SCHEDULED)
                if job is None or job["state"]["kind"] != "pending":
                    return False  # another process ran it
                ctx = MutationCtx(
                    tx,
                    AuthContext(ADMIN, runtime.auth),
                    Scheduler(runtime, tx),
                    runtime.extensions,
                )
                await spec.handler(ctx, **kwargs)
                await _finish(tx, job_id, None)
                return True

            if await runtime.store.run(body):
                self.jobs_run += 1
        except StoreConnectionError:
            raise  # it rolled back: the job stays pending and runs once the database is back
        except Exception as exc:
            log.warning("scheduled mutation %s failed: %s", spec.path, exc)
            error = _message(exc)
            await runtime.store.run(lambda tx: _finish(tx, job_id, error))

    async def _run_action_job(self, job_id: str, path: str, args: dict[str, Any]) -> None:
        error = None
        try:
            await self._runtime.action(path, args, ADMIN, internal=True)
        except Exception as exc:
            log.warning("scheduled action %s failed: %s", path, exc)
            error = _message(exc)
        await self._write_result(job_id, path, error)
        self.jobs_run += 1

    async def _write_result(self, job_id: str, path: str, error: str | None) -> None:
        """Mark the action's job done (or failed), again until the database takes it: an
        action that ended while the database was away must not stay ``inProgress``."""
        told = False
        while True:
            try:
                await self._runtime.store.run(lambda tx: _finish(tx, job_id, error, running=True))
                if told:
                    log.info("scheduled action %s: its result is written", path)
                return
            except (StoreConnectionError, ConflictError) as exc:
                if not told:
                    log.warning(
                        "scheduled action %s ended, but its result could not be written (%s); "
                        "writing it once the database answers",
                        path,
                        exc,
                    )
                    told = True
            await asyncio.sleep(RESULT_RETRY_SECONDS)

    async def _fail_orphans(self, tx: Transaction, others: bool = True) -> None:
        running = set(self._actions)  # before the snapshot: a result written since is in it
        await _fail_orphaned_actions(tx, self.id, running, others)

    def _has_room(self) -> bool:
        """Whether another action may start here."""
        return self._max_actions is None or len(self._actions) < self._max_actions

    def _action_done(self, job_id: str, task: asyncio.Task[None]) -> None:
        """Forget the claim; a failure of ours is logged (its job, no longer claimed by a
        running action, is failed by the next look for orphans)."""
        self._actions.pop(job_id, None)
        if self._full:
            self._wake.set()  # room for an action left pending
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("scheduled action job %s: its result was not written", job_id, exc_info=exc)
            self._claims_unsure = True

    async def _sync_crons(self, tx: Transaction) -> None:
        stored = {c["name"]: c for c in await tx.query(CRONS, "by_name")}
        for name, spec in self._crons.specs.items():
            found = stored.pop(name, None)
            if found is None:
                await tx.insert(
                    CRONS,
                    {"name": name, "spec": spec.describe(), "nextRun": spec.next_after(now_ms())},
                )
            elif found["spec"] != spec.describe():
                await tx.patch(
                    found["_id"], {"spec": spec.describe(), "nextRun": spec.next_after(now_ms())}
                )
        for gone in stored.values():
            await tx.delete(gone["_id"])

    async def _fire_cron(self, tx: Transaction, cron_id: str) -> None:
        cron = await tx.get(cron_id, table=CRONS)
        if cron is None or cron["nextRun"] > now_ms():
            return  # another process fired it
        spec = self._crons.specs.get(cron["name"])
        if spec is None:
            return
        await Scheduler(self._runtime, tx).run_at(now_ms(), spec.path, spec.args)
        await tx.patch(cron_id, {"nextRun": spec.next_after(max(now_ms(), cron["nextRun"]))})


async def delete_finished(store: Store, before_ms: float) -> int:
    """Delete the jobs that finished before ``before_ms``; how many went."""
    deleted = 0
    for kind in FINISHED:
        deleted += await store.delete_all(
            SCHEDULED,
            index="by_state_completed",
            eq={"state.kind": kind},
            range=Range("completedTime", lt=before_ms),
        )
    if deleted:
        log.info("deleted %d scheduled jobs finished over a week ago", deleted)
    return deleted


async def _claim(tx: Transaction, job_id: str, worker: str) -> bool:
    job = await tx.get(job_id, table=SCHEDULED)
    if job is None or job["state"]["kind"] != "pending":
        return False
    await tx.patch(job_id, {"state": {"kind": "inProgress"}, "smalltownWorker": worker})
    return True


async def _fail_orphaned_actions(
    tx: Transaction, worker: str, running: set[str], others: bool = True
) -> None:
    """Mark failed the claims of ``worker`` (this one) for which no action of its is
    ``running``, and unless not ``others``, the actions whose worker stopped or died (no
    live heartbeat)."""
    moment = now_ms()
    live = {w["worker"] for w in await tx.query(WORKERS) if w["expires"] > moment}
    for job in await tx.query(SCHEDULED, "by_state_time", eq={"state.kind": "inProgress"}):
        claimed_by = job.get("smalltownWorker")
        if claimed_by == worker and job["_id"] not in running:
            why = "interrupted: the database went away as it was claimed"
        elif others and claimed_by != worker and claimed_by not in live:
            why = "interrupted: the server stopped"
        else:
            continue
        await tx.patch(
            job["_id"], {"state": {"kind": "failed", "error": why}, "completedTime": moment}
        )


async def _finish(tx: Transaction, job_id: str, error: str | None, running: bool = False) -> None:
    job = await tx.get(job_id, table=SCHEDULED)
    expected = "inProgress" if running else "pending"
    if job is None or job["state"]["kind"] != expected:
        return
    state = {"kind": "success"} if error is None else {"kind": "failed", "error": error}
    await tx.patch(job_id, {"state": state, "completedTime": now_ms()})


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
