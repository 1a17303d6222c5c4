"""Convex-style functions on the store: queries, mutations, actions, scheduling, live queries."""

from smalltown.runtime.auth import ADMIN, ANONYMOUS, Auth, Identity
from smalltown.runtime.errors import (
    ArgumentValidationError,
    ConvexError,
    FunctionError,
    FunctionNotFoundError,
    UnauthorizedError,
)
from smalltown.runtime.functions import (
    action,
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
    "canonical_path",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "query",
]
