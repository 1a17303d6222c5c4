"""The durable scheduler and crons, on a real SQLite file, across restarts."""

import pytest

from smalltown.runtime import ConvexError, Registry, Runtime, scheduler
from smalltown.runtime.runtime import with_system_tables
from smalltown.runtime.scheduler import (
    KEEP_FINISHED_MS,
    Crons,
    CronSpec,
    SchedulerWorker,
    delete_finished,
    now_ms,
)
from smalltown.store import open_store

from example_app import jobs
from example_app.schema import schema
from helpers import eventually

REGISTRY = Registry.from_package("example_app")


class Town:
    """A runtime and its scheduler on one database file, restartable."""

    def __init__(self, url):
        self.url = url
        self.store = self.runtime = self.worker = None

    async def start(self, crons=None, poll=0.05, max_actions=None, commits=None):
        self.store = await open_store(self.url)
        self.runtime = await Runtime.create(self.store, schema, REGISTRY)
        self.worker = SchedulerWorker(
            self.runtime, crons, poll_seconds=poll, max_actions=max_actions, commits=commits
        )
        await self.worker.start()
        return self

    async def stop(self):
        await self.worker.close()
        await self.store.close()

    async def tags(self):
        return (await self.runtime.query("jobs:tags", {})).value

    async def state(self, job_id):
        return (await self.runtime.query("jobs:job", {"id": job_id})).value["state"]


@pytest.fixture
async def town(tmp_path):
    town = await Town(f"sqlite:///{tmp_path}/jobs.db").start()
    yield town
    await town.stop()


async def test_a_scheduled_mutation_runs_once_and_is_marked_done(town):
    job = (await town.runtime.mutation("jobs:schedule", {"tag": "a"})).value
    await eventually(lambda: _is(town, job, "success"))
    assert await town.tags() == ["a"]


async def test_a_job_another_process_schedules_runs_once_its_commit_is_heard(tmp_path):
    """A worker that would look for due jobs once an hour runs one that another process
    scheduled as soon as that process's commit reaches it, as the live queries'
    invalidator hands every process's commits on (``SubscriptionManager.on_commit``)."""
    url = f"sqlite:///{tmp_path}/heard.db"
    listeners = []

    def commits(listener):
        listeners.append(listener)
        return lambda: listeners.remove(listener)

    def relay(ts, writes):
        for hear in listeners:
            hear(ts, writes)

    town = await Town(url).start(poll=3600, commits=commits)
    town.store.on_commit(relay)  # its own, as the invalidator hands them on too
    other_store = await open_store(url)
    try:
        other = await Runtime.create(other_store, schema, REGISTRY)
        # Its first look at start is over once a job of its own has run.
        first = (await town.runtime.mutation("jobs:schedule", {"tag": "own"})).value
        await eventually(lambda: _is(town, first, "success"))
        other_store.on_commit(relay)
        remote = (await other.mutation("jobs:schedule", {"tag": "remote"})).value
        await eventually(lambda: _is(town, remote, "success"), timeout=30)
        assert sorted(await town.tags()) == ["own", "remote"]
    finally:
        await other_store.close()
        await town.stop()


async def _is(town, job, kind):
    return (await town.state(job))["kind"] == kind


async def test_a_rolled_back_mutation_schedules_nothing(town):
    with pytest.raises(ConvexError):
        await town.runtime.mutation("jobs:schedule", {"tag": "ghost", "fail": True})
    marker = (await town.runtime.mutation("jobs:schedule", {"tag": "real"})).value
    await eventually(lambda: _is(town, marker, "success"))
    assert await town.tags() == ["real"]
    jobs = await town.store.read(lambda tx: tx.query("_scheduled_functions"))
    assert len(jobs) == 1


async def test_failures_are_recorded_with_their_error_and_roll_back(town):
    job = (await town.runtime.mutation("jobs:schedule_explosion", {})).value
    await eventually(lambda: _is(town, job, "failed"))
    assert (await town.state(job))["error"] == "boom"
    assert await town.tags() == []


async def test_scheduled_actions_run(town):
    job = (await town.runtime.mutation("jobs:schedule_action", {"tag": "x"})).value
    await eventually(lambda: _is(town, job, "success"))
    assert await town.tags() == ["action:x"]


async def test_jobs_pending_at_shutdown_run_after_restart_once(tmp_path):
    url = f"sqlite:///{tmp_path}/restart.db"
    first = await Town(url).start(poll=0.05)
    job = (await first.runtime.mutation("jobs:schedule", {"tag": "later", "seconds": 3600})).value
    await first.stop()  # long before it was due
    store = await open_store(url, with_system_tables(schema))
    await store.run(lambda tx: tx.patch(job, {"scheduledTime": now_ms()}))  # now it is due
    await store.close()
    second = await Town(url).start(poll=0.05)
    third = None
    try:
        # A second process on the same database competes for the same job.
        third = await Town(url).start(poll=0.05)
        await eventually(lambda: _is(second, job, "success"), timeout=15)
        assert await second.tags() == ["later"]
        assert second.worker.jobs_run + third.worker.jobs_run == 1
    finally:
        if third:
            await third.stop()
        await second.stop()


async def test_an_action_interrupted_by_a_stop_is_marked_failed(tmp_path):
    url = f"sqlite:///{tmp_path}/interrupt.db"
    town = await Town(url).start()
    job = await town.store.run(
        lambda tx: tx.insert(
            "_scheduled_functions",
            {
                "name": "jobs:act",
                "args": [{"tag": "t"}],
                "scheduledTime": 0.0,
                "state": {"kind": "inProgress"},
            },
        )
    )
    await town.stop()
    town = await Town(url).start()
    try:
        state = await town.state(job)
        assert state["kind"] == "failed" and "interrupted" in state["error"]
    finally:
        await town.stop()


async def test_interval_crons_fire_repeatedly(tmp_path):
    crons = Crons()
    crons.interval("tick", "jobs:record", {"tag": "tick"}, seconds=0.2)
    town = await Town(f"sqlite:///{tmp_path}/cron.db").start(crons)
    try:
        await eventually(lambda: _count(town, 3), timeout=15)
    finally:
        await town.stop()


async def _count(town, n):
    return len(await town.tags()) >= n


def test_cron_expressions_compute_the_next_run():
    spec = CronSpec("nightly", "jobs:record", {}, expression="0 3 * * *")
    # 2026-03-17 10:00 UTC -> next 03:00 is 2026-03-18 03:00 UTC
    start = 1773741600000.0
    assert spec.next_after(start) == 1773802800000.0
    with pytest.raises(ValueError, match="not a cron expression"):
        Crons().cron("bad", "every tuesday", "jobs:record")
    with pytest.raises(ValueError, match="positive"):
        Crons().interval("zero", "jobs:record")


async def test_finished_jobs_are_deleted_a_week_after_they_finish(tmp_path):
    town = await Town(f"sqlite:///{tmp_path}/tidy.db").start()
    done = (await town.runtime.mutation("jobs:schedule", {"tag": "a"})).value
    failed = (await town.runtime.mutation("jobs:schedule_explosion", {})).value
    later = (await town.runtime.mutation("jobs:schedule", {"tag": "b", "seconds": 3600})).value
    await eventually(lambda: _is(town, done, "success"))
    await eventually(lambda: _is(town, failed, "failed"))
    await town.stop()

    async def old_jobs(tx):  # finished eight days ago, as a long-running town's are
        eight_days_ago = now_ms() - 8 * 86_400_000
        for kind in ("success", "failed", "canceled"):
            await tx.insert(
                "_scheduled_functions",
                {
                    "name": "jobs:record",
                    "args": [{"tag": kind}],
                    "scheduledTime": eight_days_ago - 1000,
                    "state": {"kind": kind},
                    "completedTime": eight_days_ago,
                },
            )

    store = await open_store(town.url, with_system_tables(schema))
    await store.run(old_jobs)
    await store.close()

    await town.start()  # the scheduler tidies as it starts, then hourly
    try:

        async def kept():
            jobs = await town.store.read(lambda tx: tx.query("_scheduled_functions"))
            return sorted(j["_id"] for j in jobs) == sorted([done, failed, later])

        await eventually(kept)
        assert await delete_finished(town.store, now_ms() - KEEP_FINISHED_MS) == 0
        assert await delete_finished(town.store, now_ms() + 1) == 2  # a week on: all finished
        assert await _is(town, later, "pending")
    finally:
        await town.stop()


async def test_a_starting_process_fails_only_the_actions_of_processes_that_are_gone(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(scheduler, "ORPHANS_EVERY_MS", 100)
    url = f"sqlite:///{tmp_path}/workers.db"
    a, b = await Town(url).start(), await Town(url).start()
    towns = [a, b]
    try:

        async def claimed(job_id):
            doc = await a.store.read(lambda tx: tx.get(job_id, table="_scheduled_functions"))
            return doc.get("smalltownWorker") if doc["state"]["kind"] == "inProgress" else None

        async def holder(job_id):
            await eventually(lambda: claimed(job_id))
            worker = await claimed(job_id)
            return next(t for t in towns if t.worker.id == worker)

        # Another process starting while an action runs leaves it running.
        job = (await a.runtime.mutation("jobs:schedule_held", {"tag": "s"})).value
        await holder(job)
        towns.append(await Town(url).start())
        assert (await a.state(job))["kind"] == "inProgress"
        jobs.release("s")
        await eventually(lambda: _is(a, job, "success"), timeout=20)

        # The process running an action stops: another marks it failed within a moment.
        job = (await a.runtime.mutation("jobs:schedule_held", {"tag": "t"})).value  # for ever
        gone = await holder(job)
        await gone.stop()
        towns.remove(gone)
        left = towns[0]
        await eventually(lambda: _is(left, job, "failed"), timeout=20)
        assert "interrupted" in (await left.state(job))["error"]
        assert "t" not in await left.tags()
    finally:
        for town in towns:
            await town.stop()
        jobs.HELD.clear()


async def test_a_worker_without_room_leaves_due_actions_to_a_worker_with_some(tmp_path):
    url = f"sqlite:///{tmp_path}/room.db"
    a = await Town(url).start(max_actions=2)
    towns = [a]
    try:

        async def states() -> dict[str, tuple[str, str | None]]:
            found = await a.store.read(lambda tx: tx.query("_scheduled_functions"))
            return {j["_id"]: (j["state"]["kind"], j.get("smalltownWorker")) for j in found}

        async def held_by(town) -> int:
            return sum(1 for _, w in (await states()).values() if w == town.worker.id)

        tags = ["r0", "r1", "r2"]
        for tag in tags:
            await a.runtime.mutation("jobs:schedule_held", {"tag": tag})
        await eventually(lambda: _holds(held_by(a), 2))
        # The third waits pending rather than in a's queue, for a worker with room.
        assert sorted(kind for kind, _ in (await states()).values()) == [
            "inProgress",
            "inProgress",
            "pending",
        ]
        b = await Town(url).start(max_actions=1)
        towns.append(b)
        await eventually(lambda: _holds(held_by(b), 1))

        # An action of a's ending makes room there (b has none): a takes the next one.
        jobs.release(next(iter(await _running_tags(a))))
        await a.runtime.mutation("jobs:schedule_held", {"tag": "r3"})
        tags.append("r3")
        await eventually(lambda: _holds(held_by(a), 2), "a to take the next action")
        for tag in tags:
            jobs.release(tag)
        await eventually(lambda: _all_done(states()), "every action to finish", timeout=20)
        assert sorted(await a.tags()) == sorted(tags)
    finally:
        for town in towns:
            await town.stop()
        jobs.HELD.clear()


async def _holds(count, wanted: int) -> bool:
    return await count == wanted


async def _all_done(states) -> bool:
    return all(kind == "success" for kind, _ in (await states).values())


async def _running_tags(town) -> set[str]:
    """Tags of the held actions ``town``'s worker runs now."""
    found = await town.store.read(lambda tx: tx.query("_scheduled_functions"))
    return {
        j["args"][0]["tag"]
        for j in found
        if j["state"]["kind"] == "inProgress" and j.get("smalltownWorker") == town.worker.id
    }
