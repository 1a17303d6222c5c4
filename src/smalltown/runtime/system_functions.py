"""The admin's system functions, by Convex's paths, on every runtime whatever its app:
a look at any table's documents (declared by the app or only imported) without writing
a function.

- ``_system/cli/tables`` (``{paginationOpts}``): a page of ``{"name"}``, one a table of
  the app's data, declared or not;
- ``_system/cli/tableData`` (``{table, order?, paginationOpts}``): a page of ``table``'s
  documents by creation time, ``order`` ``"asc"`` or ``"desc"`` (the default);
- ``_system/cli/tableSize`` (``{tableName}``): how many documents ``tableName`` holds.

Pages are ``{"page", "isDone", "continueCursor"}`` as Convex's paginated queries return
them, so ``npx convex data`` can read them. They are internal queries: the admin key (or
the app's own functions) may call them; anyone else is told no such function exists, as
Convex answers. The tables are the app's data (names not starting with ``_``) and
``_storage``, never smalltown's own (``_smalltown_*``, which hold the keys).
"""

from __future__ import annotations

from typing import Any

from smalltown.runtime.context import QueryCtx
from smalltown.runtime.errors import ArgumentValidationError, UnauthorizedError
from smalltown.runtime.functions import internal_query
from smalltown.runtime.registry import Registry
from smalltown.store import InvalidQueryError

MAX_PAGE = 1000  # documents a page at most, whatever ``numItems`` asks
READABLE_SYSTEM_TABLES = ("_storage",)


def _readable(ctx: QueryCtx) -> list[str]:
    if not ctx.auth.is_admin:  # an app's function may call these only for the admin
        raise UnauthorizedError("system functions are for the admin key only")
    names = ctx.db.table_numbers
    return sorted(n for n in names if not n.startswith("_") or n in READABLE_SYSTEM_TABLES)


def _page_size(options: dict[str, Any]) -> tuple[int, str | None]:
    n, cursor = options.get("numItems"), options.get("cursor")
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n < 1:
        raise ArgumentValidationError(
            f"paginationOpts.numItems must be a positive number, got {n!r}"
        )
    if cursor is not None and not isinstance(cursor, str):
        raise ArgumentValidationError("paginationOpts.cursor must be a string or null")
    return min(int(n), MAX_PAGE), cursor


@internal_query
async def tables(ctx: QueryCtx, paginationOpts: dict[str, Any]) -> dict[str, Any]:
    """The tables, a page at a time (the cursor is the last name given)."""
    size, cursor = _page_size(paginationOpts)
    app = [n for n in _readable(ctx) if not n.startswith("_")]
    names = [n for n in app if cursor is None or n > cursor]
    page = names[:size]
    done = len(names) <= size
    return {
        "page": [{"name": n} for n in page],
        "isDone": done,
        "continueCursor": page[-1] if page else (cursor or ""),
    }


def _table(ctx: QueryCtx, table: str) -> str:
    readable = _readable(ctx)
    if table not in readable:
        raise ArgumentValidationError(
            f"no table {table!r} to read; the tables: {', '.join(readable) or 'none'}"
        )
    return table


@internal_query
async def table_data(
    ctx: QueryCtx, table: str, paginationOpts: dict[str, Any], order: str = "desc"
) -> dict[str, Any]:
    """A page of ``table``'s documents by creation time, with the cursor of the next."""
    name = _table(ctx, table)
    size, cursor = _page_size(paginationOpts)
    if order not in ("asc", "desc"):
        raise ArgumentValidationError(f'order must be "asc" or "desc", got {order!r}')
    try:
        page = await ctx.db.paginate(name, order=order, cursor=cursor, page_size=size)  # type: ignore[arg-type]
    except InvalidQueryError as exc:  # a cursor of another table or order, or none at all
        raise ArgumentValidationError(f"paginationOpts.cursor: {exc}") from None
    return {"page": page.page, "isDone": page.is_done, "continueCursor": page.continue_cursor}


@internal_query
async def table_size(ctx: QueryCtx, tableName: str) -> float:
    """How many documents ``tableName`` holds (a number, as Convex answers)."""
    return float(await ctx.db.count(_table(ctx, tableName)))


def system_registry() -> Registry:
    """The system functions at their paths."""
    registry = Registry()
    registry.add("_system/cli/tables", tables)
    registry.add("_system/cli/tableData", table_data)
    registry.add("_system/cli/tableSize", table_size)
    return registry
