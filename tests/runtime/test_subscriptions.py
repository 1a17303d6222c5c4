"""The subscription manager on a real SQLite store: which commits re-run which live
queries, how identical queries are shared, and what each listener is sent."""

from collections.abc import Callable

import pytest

from smalltown.runtime import ANONYMOUS, Identity, Registry, Runtime, wire
from smalltown.runtime.subscriptions import (
    LocalInvalidator,
    Result,
    Subscription,
    SubscriptionManager,
)
from smalltown.store import Store, Write, open_store

from example_app.schema import schema
from helpers import eventually

ADA = Identity("user", "ada")


class Inbox:
    """A listener that keeps what it is sent: per delivery, its timestamp and the new
    values by query id."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[int, dict[int, Result]]] = []

    def deliver(self, ts: int, changes: list[tuple[Subscription, Result]]) -> None:
        self.deliveries.append((ts, {sub.query_id: result for sub, result in changes}))

    def values(self) -> list[dict[int, object]]:
        """Each delivery's decoded values (or errors), by query id."""
        return [
            {qid: wire.decode(r.value) if r.ok else ("error", r.error) for qid, r in got.items()}
            for _, got in self.deliveries
        ]


class HandInvalidator:
    """Hands the manager only the commits the test passes on, and a resync on demand, as
    a cross-process invalidator would: the store's own commits are not listened to."""

    def attach(self, store: Store, deliver, resync: Callable[[], None]) -> None:
        self.deliver, self.resync = deliver, resync

    async def close(self) -> None:
        return None


def as_result(exc: BaseException) -> Result:
    return Result(error=f"{type(exc).__name__}: {exc}")


@pytest.fixture
async def runtime(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/live.db")
    yield await Runtime.create(store, schema, Registry.from_package("example_app"))
    await store.close()


async def _manager(runtime, invalidator=None) -> SubscriptionManager:
    manager = SubscriptionManager(runtime, invalidator or LocalInvalidator(), as_result)
    await manager.start()
    return manager


@pytest.fixture
async def manager(runtime):
    manager = await _manager(runtime)
    yield manager
    await manager.close()


def town(query_id: int = 1, identity: Identity = ANONYMOUS, **args):
    return (query_id, "messages:list", {"channel": "town", **args}, identity)


async def send(runtime, channel: str, body: str) -> int:
    """Send a message; the commit's timestamp."""
    args = {"channel": channel, "author": "ada", "body": body}
    return (await runtime.mutation("messages:send", args)).ts


async def test_a_commit_into_what_a_query_read_re_runs_it_and_sends_the_new_value(runtime, manager):
    inbox = Inbox()
    ts, [(sub, first)] = await manager.subscribe(inbox, [town()])
    assert wire.decode(first.value) == [] and sub.query_id == 1
    assert ts == runtime.store.last_commit_ts
    sent = await send(runtime, "town", "hello")
    await manager.settled(sent)
    assert inbox.values() == [{1: [{"author": "ada", "body": "hello"}]}]
    assert inbox.deliveries[0][0] >= sent  # the value reflects the commit
    assert (manager.rounds, manager.query_runs) == (1, 2)


async def test_a_commit_elsewhere_re_runs_nothing(runtime, manager):
    inbox = Inbox()
    await manager.subscribe(inbox, [town()])
    await manager.settled(await send(runtime, "square", "not in town"))
    await manager.settled(
        (await runtime.mutation("values:counter_add", {"name": "c"})).ts  # another table
    )
    assert inbox.deliveries == []
    assert (manager.rounds, manager.query_runs) == (0, 1)


async def test_identical_queries_share_one_run_whoever_subscribes(runtime, manager):
    one, two, other = Inbox(), Inbox(), Inbox()
    await manager.subscribe(one, [town(1, limit=5)])
    await manager.subscribe(two, [(7, "messages:list", {"limit": 5, "channel": "town"}, ANONYMOUS)])
    assert manager.query_runs == 1  # the same arguments in another order: the same query
    await manager.subscribe(other, [town(1, ADA, limit=5)])
    assert manager.query_runs == 2  # another identity: a query of its own
    assert manager.subscription_count == 3

    await manager.settled(await send(runtime, "town", "hi"))
    said = [{"author": "ada", "body": "hi"}]
    assert one.values() == [{1: said}] and two.values() == [{7: said}]
    assert other.values() == [{1: said}]
    assert manager.query_runs == 4  # one re-run per distinct query, not per subscriber


async def test_a_re_run_with_the_same_value_sends_nothing(runtime, manager):
    inbox = Inbox()
    message = await runtime.mutation(
        "messages:send", {"channel": "town", "author": "ada", "body": "hi"}
    )
    await manager.subscribe(inbox, [town()])
    # A field the query does not return changes: its read range is touched, its value not.
    await runtime.store.run(lambda tx: tx.patch(message.value, {"seen": True}))
    await manager.settled(runtime.store.last_commit_ts)
    assert manager.query_runs == 2 and inbox.deliveries == []


async def test_a_listener_gets_its_changed_queries_together_from_one_snapshot(runtime, manager):
    inbox = Inbox()
    count = (2, "messages:count", {"channel": "town"}, ANONYMOUS)
    elsewhere = (3, "messages:count", {"channel": "square"}, ANONYMOUS)
    _, results = await manager.subscribe(inbox, [town(), count, elsewhere])
    assert [wire.decode(r.value) for _, r in results] == [[], 0.0, 0.0]
    sent = await send(runtime, "town", "hi")
    await manager.settled(sent)
    # One delivery with both changed queries (not the unchanged one), at one timestamp.
    assert inbox.values() == [{1: [{"author": "ada", "body": "hi"}], 2: 1.0}]


async def test_unsubscribing_frees_the_shared_query_once_its_last_subscriber_goes(runtime, manager):
    one, two = Inbox(), Inbox()
    _, [(sub_one, _)] = await manager.subscribe(one, [town()])
    _, [(sub_two, _)] = await manager.subscribe(two, [town(5)])
    manager.unsubscribe(sub_one)
    assert manager.subscription_count == 1
    await manager.settled(await send(runtime, "town", "first"))
    assert one.deliveries == [] and two.values() == [{5: [{"author": "ada", "body": "first"}]}]

    manager.unsubscribe(sub_two)
    assert manager.subscription_count == 0
    runs = manager.query_runs
    await manager.settled(await send(runtime, "town", "second"))
    assert manager.query_runs == runs  # nobody listens: nothing re-runs
    await manager.subscribe(one, [town()])
    assert manager.query_runs == runs + 1  # a new subscriber runs it afresh
    manager.unsubscribe(sub_two)  # twice: no harm


async def test_a_failing_query_is_sent_as_an_error_and_the_others_still_run(runtime, manager):
    inbox = Inbox()
    _, results = await manager.subscribe(
        inbox,
        [
            (1, "messages:broken", {}, ANONYMOUS),
            (2, "messages:nonexistent", {}, ANONYMOUS),
            town(3),
        ],
    )
    broken, missing, fine = (r for _, r in results)
    assert broken.error == "RuntimeError: a bug the caller must not see"
    assert not missing.ok and "nonexistent" in missing.error
    assert fine.ok and wire.decode(fine.value) == []


async def test_a_listener_that_fails_does_not_keep_an_update_from_the_others(
    runtime, manager, caplog
):
    class Broken:
        def deliver(self, ts, changes):
            raise RuntimeError("gone")

    inbox = Inbox()
    await manager.subscribe(Broken(), [town()])
    await manager.subscribe(inbox, [town()])
    await manager.settled(await send(runtime, "town", "hi"))
    assert inbox.values() == [{1: [{"author": "ada", "body": "hi"}]}]
    assert "a listener failed to take an update" in caplog.text


async def test_a_commit_made_while_a_subscription_first_runs_is_not_missed(
    runtime, manager, monkeypatch
):
    """The first run's snapshot is older than a commit that arrives before the
    subscription is in place: the query is re-run, and the commit reaches the listener."""
    real = runtime.query_batch
    committed = []

    async def snapshot_then_a_commit(calls):
        monkeypatch.setattr(runtime, "query_batch", real)  # once
        snapshot = await real(calls)
        committed.append(await send(runtime, "town", "meanwhile"))
        return snapshot

    monkeypatch.setattr(runtime, "query_batch", snapshot_then_a_commit)
    inbox = Inbox()
    _, [(_, first)] = await manager.subscribe(inbox, [town()])
    assert wire.decode(first.value) == []  # as the snapshot saw it
    await manager.settled(committed[0])
    assert inbox.values() == [{1: [{"author": "ada", "body": "meanwhile"}]}]


async def test_a_resync_re_runs_every_live_query_and_sends_what_changed(runtime):
    """After commits may have been missed (another process's, while Redis was away),
    every live query re-runs; only those whose value changed are sent."""
    hand = HandInvalidator()
    manager = await _manager(runtime, hand)
    try:
        inbox = Inbox()
        count = (2, "messages:count", {"channel": "square"}, ANONYMOUS)
        await manager.subscribe(inbox, [town(), count])
        await send(runtime, "town", "missed")  # the manager never hears of it
        assert manager.query_runs == 2 and inbox.deliveries == []
        hand.resync()
        await eventually(lambda: manager.rounds == 1, "the resync's round")
        assert manager.query_runs == 4
        assert inbox.values() == [{1: [{"author": "ada", "body": "missed"}]}]
    finally:
        await manager.close()


async def test_commits_handed_over_by_the_invalidator_are_what_counts(runtime):
    """A commit from elsewhere (its writes as the other process reported them) re-runs
    the queries it touches, and the round settles at its timestamp."""
    hand = HandInvalidator()
    manager = await _manager(runtime, hand)
    try:
        inbox = Inbox()
        await manager.subscribe(inbox, [town()])
        made: list[tuple[int, tuple[Write, ...]]] = []
        detach = runtime.store.on_commit(lambda ts, writes: made.append((ts, writes)))
        sent = await send(runtime, "town", "from afar")  # unheard, as above...
        detach()
        hand.deliver(*made[0])  # ...until now
        await manager.settled(sent)
        assert inbox.values() == [{1: [{"author": "ada", "body": "from afar"}]}]

        unrelated = (Write("counters", "x", None, {"by_id": b"x"}),)
        hand.deliver(sent + 1, unrelated)
        await manager.settled(sent + 1)  # settles without re-running anything
        assert manager.query_runs == 2 and len(inbox.deliveries) == 1
    finally:
        await manager.close()


async def test_settled_waits_only_for_commits_up_to_its_timestamp(runtime, manager):
    await manager.settled(0)  # nothing to wait for
    sent = await send(runtime, "town", "x")
    await manager.settled(sent)
    with pytest.raises(TimeoutError):
        await manager.settled(sent + 10**9, timeout=0.05)  # no such commit yet
