"""Convex-style functions on the store: queries, mutations, actions, scheduling, live queries."""

from smalltown.runtime.auth import ADMIN, ANONYMOUS, Auth, Identity, session_identity
from smalltown.runtime.errors import (
    ArgumentValidationError,
    ConvexError,
    FunctionError,
    FunctionNotFoundError,
    UnauthorizedError,
)
from smalltown.runtime.functions import (
    action,
    caller_query,
    internal_action,
    internal_mutation,
    internal_query,
    mutation,
    query,
)
from smalltown.runtime.registry import Registry, canonical_path
from smalltown.runtime.runtime import MutationOutcome, QueryOutcome, Runtime

__all__ = [
    "ADMIN",
    "ANONYMOUS",
    "ArgumentValidationError",
    "Auth",
    "ConvexError",
    "FunctionError",
    "FunctionNotFoundError",
    "Identity",
    "MutationOutcome",
    "QueryOutcome",
    "Registry",
    "Runtime",
    "UnauthorizedError",
    "action",
    "caller_query",
    "canonical_path",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "query",
    "session_identity",
]
