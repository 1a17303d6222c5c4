"""Declaring functions: ``@query``, ``@mutation``, ``@action`` and their internal twins.

    @query
    async def list(ctx, conversationId: str, limit: float = 10) -> list[dict]:
        return await ctx.db.query("messages", "by_conversation", ...)

Arguments come from the function's parameters after ``ctx``, validated against their type
hints (strictly, as Convex validators are: ``float`` is a Convex number, ``int`` an Int64,
``str | None`` optional-or-null). A function's path is its module's path and its name, as
in Convex: ``messages:list``, ``town/world:state``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_type_hints

import pydantic

from smalltown.runtime.errors import ArgumentValidationError

Kind = Literal["query", "mutation", "action"]
ATTRIBUTE = "__smalltown_function__"


@dataclass
class FunctionSpec:
    kind: Kind
    public: bool
    handler: Callable[..., Any]
    path: str = ""
    #: a query whose result depends on who asks (``ctx.auth``): live, it runs per caller;
    #: other queries run once for every anonymous viewer, as nobody
    per_caller: bool = False
    _model: type[pydantic.BaseModel] | None = field(default=None, repr=False)

    def validate(self, args: Any) -> dict[str, Any]:
        """Keyword arguments for the handler, or ArgumentValidationError naming the field."""
        if not isinstance(args, dict):
            raise ArgumentValidationError(
                f"{self.path}: arguments must be an object, got {type(args).__name__}"
            )
        model = self._model or self._build_model()
        try:
            parsed = model.model_validate(args)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors()
            )
            raise ArgumentValidationError(
                f"invalid arguments for {self.path}: {problems}"
            ) from None
        return {name: getattr(parsed, name) for name in model.model_fields}

    def _build_model(self) -> type[pydantic.BaseModel]:
        signature = inspect.signature(self.handler)
        hints = get_type_hints(self.handler)
        fields: dict[str, Any] = {}
        for name, param in list(signature.parameters.items())[1:]:  # skip ctx
            annotation = hints.get(name, Any)
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[name] = (annotation, default)
        self._model = pydantic.create_model(
            f"Args_{self.handler.__name__}",
            __config__=pydantic.ConfigDict(extra="forbid", strict=True),
            **fields,
        )
        return self._model


def _decorator(kind: Kind, public: bool, per_caller: bool = False) -> Callable[..., Any]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn.__qualname__}: a {kind} must be an async function")
        if not list(inspect.signature(fn).parameters):
            raise TypeError(f"{fn.__qualname__}: a {kind} takes ctx as its first parameter")
        setattr(fn, ATTRIBUTE, FunctionSpec(kind, public, fn, per_caller=per_caller))
        return fn

    return decorate


query = _decorator("query", public=True)
#: a public query that answers each caller differently (e.g. "which player is mine")
caller_query = _decorator("query", public=True, per_caller=True)
mutation = _decorator("mutation", public=True)
action = _decorator("action", public=True)
internal_query = _decorator("query", public=False)
internal_mutation = _decorator("mutation", public=False)
internal_action = _decorator("action", public=False)
