"""What a function receives as ``ctx``.

``ctx.db`` is the store transaction itself: read-only in a query, writable in a mutation;
actions have no ``db`` and work through ``run_query`` / ``run_mutation``, as in Convex.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from smalltown.runtime.auth import Auth, Identity
from smalltown.runtime.errors import UnauthorizedError
from smalltown.runtime.registry import Registry
from smalltown.store import Store, Transaction

SCHEDULED = "_scheduled_functions"


class FunctionRunner(Protocol):
    """What a ``ctx`` reaches of the runtime that runs its function (``runtime.Runtime``),
    named here because that module imports this one."""

    registry: Registry
    store: Store
    extensions: dict[str, Any]

    async def query(
        self, path: str, args: Mapping[str, Any], identity: Identity, *, internal: bool
    ) -> Any: ...

    async def mutation(
        self, path: str, args: Mapping[str, Any], identity: Identity, *, internal: bool
    ) -> Any: ...

    async def action(
        self, path: str, args: Mapping[str, Any], identity: Identity, *, internal: bool
    ) -> Any: ...


@dataclass
class AuthContext:
    identity: Identity
    _auth: Auth

    @property
    def is_admin(self) -> bool:
        return self.identity.kind == "admin"

    def user(self) -> Identity | None:
        return self.identity if self.identity.kind == "user" else None

    def caller(self) -> Identity | None:
        """Who a function acts for: a token's user, or a sync client's own session (see
        ``auth.py``); None for nobody and for the admin."""
        return self.identity if self.identity.kind in ("user", "session") else None

    def require_user(self) -> Identity:
        if self.identity.kind != "user":
            raise UnauthorizedError("sign in first: this function needs a user token")
        return self.identity

    def mint_token(
        self, subject: str, claims: dict[str, Any] | None = None, seconds: float | None = None
    ) -> str:
        """A signed user token for ``subject``, to hand to that user's client."""
        if seconds is None:
            return self._auth.mint(subject, claims)
        return self._auth.mint(subject, claims, seconds)


class Scheduler:
    """Schedules functions durably: in a mutation, inside its own transaction."""

    def __init__(self, runtime: FunctionRunner, tx: Transaction | None) -> None:
        self._runtime = runtime
        self._tx = tx

    async def run_after(self, seconds: float, path: str, args: dict[str, Any] | None = None) -> str:
        return await self.run_at(time.time() * 1000 + max(0.0, seconds) * 1000, path, args)

    async def run_at(
        self, timestamp_ms: float, path: str, args: dict[str, Any] | None = None
    ) -> str:
        spec = self._runtime.registry.get(path, public_only=False)
        job = {
            "name": spec.path,
            "args": [args or {}],
            "scheduledTime": float(timestamp_ms),
            "state": {"kind": "pending"},
        }
        if self._tx is not None:
            return await self._tx.insert(SCHEDULED, job)
        return await self._runtime.store.run(lambda tx: tx.insert(SCHEDULED, job))

    async def cancel(self, job_id: str) -> None:
        now = time.time() * 1000

        async def cancel(tx: Transaction) -> None:
            job = await tx.get(job_id, table=SCHEDULED)
            if job and job["state"]["kind"] == "pending":
                await tx.patch(job_id, {"state": {"kind": "canceled"}, "completedTime": now})

        if self._tx is not None:
            await cancel(self._tx)
        else:
            await self._runtime.store.run(cancel)


@dataclass
class QueryCtx:
    db: Transaction
    auth: AuthContext
    #: what the app's service provided (see ``Runtime.extensions``), to read settings such
    #: as a budget from; the query's result must still follow from the store and its args
    extensions: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class MutationCtx:
    db: Transaction
    auth: AuthContext
    scheduler: Scheduler
    #: as a query's: what the app's service provided (settings such as who may freeze)
    extensions: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ActionCtx:
    auth: AuthContext
    scheduler: Scheduler
    _runtime: FunctionRunner

    @property
    def extensions(self) -> dict[str, Any]:
        """Objects the app's service provided (see ``Runtime.extensions``)."""
        return self._runtime.extensions

    async def run_query(self, path: str, args: dict[str, Any] | None = None) -> Any:
        outcome = await self._runtime.query(path, args or {}, self.auth.identity, internal=True)
        return outcome.value

    async def run_mutation(self, path: str, args: dict[str, Any] | None = None) -> Any:
        outcome = await self._runtime.mutation(path, args or {}, self.auth.identity, internal=True)
        return outcome.value

    async def run_action(self, path: str, args: dict[str, Any] | None = None) -> Any:
        return await self._runtime.action(path, args or {}, self.auth.identity, internal=True)

    async def vector_search(
        self, table: str, index: str, vector: list[float], **kwargs: Any
    ) -> list[tuple[str, float]]:
        return await self._runtime.store.read(
            lambda tx: tx.vector_search(table, index, vector, **kwargs)
        )
