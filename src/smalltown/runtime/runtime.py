"""Running functions against the store: the one place a call becomes a transaction."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from smalltown.runtime.auth import ANONYMOUS, SECRETS_TABLE, Auth, Identity
from smalltown.runtime.context import (
    ActionCtx,
    AuthContext,
    MutationCtx,
    QueryCtx,
    Scheduler,
)
from smalltown.runtime.errors import FunctionError
from smalltown.runtime.functions import FunctionSpec, Kind
from smalltown.runtime.registry import Registry
from smalltown.runtime.system_functions import system_registry
from smalltown.store import Index, KeyRange, Schema, Store, Table, Transaction, files

SYSTEM_TABLES = (
    SECRETS_TABLE,
    Table(
        "_scheduled_functions",
        indexes=[
            Index("by_state_time", ["state.kind", "scheduledTime"]),
            Index("by_state_completed", ["state.kind", "completedTime"]),
        ],
    ),
    Table("_cron_jobs", indexes=[Index("by_name", ["name"])]),
    Table("_smalltown_workers", indexes=[Index("by_worker", ["worker"])]),
    Table("_smalltown_imports", indexes=[Index("byImport", ["importKey", "table"])]),
    *files.TABLES,  # file storage
    # Components' tables as snapshots carry them (see smalltown.migrate).
    Table("_smalltown_components", indexes=[Index("byTable", ["prefix", "table", "line"])]),
    Table("_smalltown_component_tables", indexes=[Index("byTable", ["prefix", "table"])]),
)


def with_system_tables(schema: Schema) -> Schema:
    for table in schema.tables:
        if table.name.startswith("_"):
            raise FunctionError(f"table {table.name!r}: names starting with '_' are reserved")
    return schema.merged(SYSTEM_TABLES)


#: one query of a batch: its value, or the error it raised, and what it read
BatchResult = tuple[Any, BaseException | None, tuple[KeyRange, ...]]


@dataclass(frozen=True)
class QueryOutcome:
    value: Any
    reads: tuple[KeyRange, ...]
    ts: int  # every commit up to this timestamp is reflected in ``value``


@dataclass(frozen=True)
class MutationOutcome:
    value: Any
    ts: int


class Runtime:
    def __init__(self, store: Store, registry: Registry, auth: Auth) -> None:
        self.store = store
        #: the app's functions and the admin's system functions (``system_functions.py``)
        self.registry = registry.merged(system_registry())
        self.auth = auth
        #: called after every call with (kind, path, seconds, succeeded)
        self.observers: list[Callable[[str, str, float, bool], None]] = []
        #: what an app's service hands its functions (an LLM client, say), by name
        self.extensions: dict[str, Any] = {}

    @contextlib.contextmanager
    def _observed(self, kind: str, path: str) -> Iterator[None]:
        start, ok = time.perf_counter(), False
        try:
            yield
            ok = True
        finally:
            for observe in self.observers:
                observe(kind, path, time.perf_counter() - start, ok)

    @classmethod
    async def create(
        cls, store: Store, schema: Schema, registry: Registry, admin_key: str | None = None
    ) -> Runtime:
        """Apply the app's schema (with the system tables) and load the keys."""
        await store.apply_schema(with_system_tables(schema))
        return cls(store, registry, await Auth.load(store, admin_key))

    def _spec(self, path: str, kind: Kind, identity: Identity, internal: bool) -> FunctionSpec:
        spec = self.registry.get(path, public_only=not (internal or identity.kind == "admin"))
        if spec.kind != kind:
            raise FunctionError(f"{spec.path} is a {spec.kind}, not a {kind}")
        return spec

    def function_kind(self, path: str, identity: Identity) -> Kind:
        return self.registry.get(path, public_only=identity.kind != "admin").kind

    async def query(
        self,
        path: str,
        args: Mapping[str, Any],
        identity: Identity = ANONYMOUS,
        *,
        internal: bool = False,
    ) -> QueryOutcome:
        with self._observed("query", path):
            spec = self._spec(path, "query", identity, internal)
            kwargs = spec.validate(args)
            auth = AuthContext(identity, self.auth)
            ts = self.store.last_commit_ts  # before the snapshot: later commits may be in it
            done = await self.store.transact(
                lambda tx: spec.handler(QueryCtx(tx, auth, self.extensions), **kwargs),
                read_only=True,
            )
            return QueryOutcome(done.value, done.reads, ts)

    async def query_batch(
        self, calls: list[tuple[str, Mapping[str, Any], Identity]]
    ) -> tuple[int, list[BatchResult]]:
        """Run several queries in one snapshot (one Transition's values must agree).

        Returns the snapshot's timestamp and, per call, its value or error and its reads.
        A failing query does not fail the others.
        """
        prepared: list[tuple[FunctionSpec, dict[str, Any], AuthContext] | Exception] = []
        for path, args, identity in calls:
            try:
                spec = self._spec(path, "query", identity, internal=False)
                prepared.append((spec, spec.validate(args), AuthContext(identity, self.auth)))
            except Exception as exc:  # reported per query, as Convex does
                prepared.append(exc)

        async def run_all(tx: Transaction) -> list[BatchResult]:
            out: list[BatchResult] = []
            for item in prepared:
                if isinstance(item, BaseException):
                    out.append((None, item, ()))
                    continue
                spec, kwargs, auth = item
                before = len(tx.reads)
                try:
                    value = await spec.handler(QueryCtx(tx, auth, self.extensions), **kwargs)
                    out.append((value, None, tx.reads[before:]))
                except Exception as exc:
                    out.append((None, exc, tx.reads[before:]))
            return out

        ts = self.store.last_commit_ts
        results = await self.store.read(run_all)
        return ts, results

    async def mutation(
        self,
        path: str,
        args: Mapping[str, Any],
        identity: Identity = ANONYMOUS,
        *,
        internal: bool = False,
    ) -> MutationOutcome:
        with self._observed("mutation", path):
            spec = self._spec(path, "mutation", identity, internal)
            kwargs = spec.validate(args)
            auth = AuthContext(identity, self.auth)

            async def body(tx: Transaction) -> Any:
                return await spec.handler(
                    MutationCtx(tx, auth, Scheduler(self, tx), self.extensions), **kwargs
                )

            done = await self.store.transact(body)
            return MutationOutcome(done.value, max(done.ts, self.store.last_commit_ts))

    async def action(
        self,
        path: str,
        args: Mapping[str, Any],
        identity: Identity = ANONYMOUS,
        *,
        internal: bool = False,
    ) -> Any:
        with self._observed("action", path):
            spec = self._spec(path, "action", identity, internal)
            kwargs = spec.validate(args)
            ctx = ActionCtx(AuthContext(identity, self.auth), Scheduler(self, None), self)
            return await spec.handler(ctx, **kwargs)

    async def call(self, path: str, args: Mapping[str, Any], identity: Identity) -> Any:
        """Run whatever kind of function ``path`` is (``/api/function``)."""
        kind = self.function_kind(path, identity)
        if kind == "query":
            return (await self.query(path, args, identity)).value
        if kind == "mutation":
            return (await self.mutation(path, args, identity)).value
        return await self.action(path, args, identity)
