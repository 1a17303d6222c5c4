"""Key ranges: what a query reads and a write moves, and whether the two meet.

A query's equality prefix and :class:`Range` become byte bounds on one index
(``query_bounds``); a transaction records the :class:`KeyRange` s it read and the
:class:`Write` s it made, and ``overlaps`` tells a live query whether a commit may change
its result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from smalltown.store import keys, values
from smalltown.store.errors import InvalidQueryError
from smalltown.store.schema import Table


@dataclass(frozen=True, slots=True)
class KeyRange:
    """Keys ``low <= key < high`` of one index (``high=None``: no upper bound)."""

    table: str
    index: str
    low: bytes
    high: bytes | None

    def contains(self, key: bytes) -> bool:
        return key >= self.low and (self.high is None or key < self.high)


class Write(NamedTuple):
    """A document's index keys before and after a write (``None``: absent on that side)."""

    table: str
    id: str
    old_keys: Mapping[str, bytes] | None
    new_keys: Mapping[str, bytes] | None


def overlaps(reads: Sequence[KeyRange], writes: Sequence[Write]) -> bool:
    """Whether any write moves a key into or out of any read range: the query may change."""
    for write in writes:
        for r in reads:
            if r.table != write.table:
                continue
            for side in (write.old_keys, write.new_keys):
                if side is not None and r.index in side and r.contains(side[r.index]):
                    return True
    return False


def point(table: str, index: str, key: bytes) -> KeyRange:
    """The range holding exactly ``key``."""
    # Complete keys are prefix-free, so [key, key + 0x00) holds exactly one key.
    return KeyRange(table, index, key, key + b"\x00")


@dataclass(frozen=True, slots=True)
class Range:
    """Bounds on the index field that follows the equality prefix of a query."""

    field: str
    gt: Any = values.UNDEFINED
    gte: Any = values.UNDEFINED
    lt: Any = values.UNDEFINED
    lte: Any = values.UNDEFINED


def query_bounds(
    t: Table, index: str, eq: Mapping[str, Any] | None, rng: Range | None
) -> tuple[bytes, bytes | None]:
    """The keys ``[low, high)`` of index ``index`` that match ``eq`` and ``rng``; refuses a
    query the index cannot answer."""
    ix = t.index(index)
    queryable = ix.key_fields[:-1]  # every field but _id
    eq = dict(eq or {})
    if list(eq) != list(queryable[: len(eq)]):
        raise InvalidQueryError(
            f"index {t.name}.{index} is on {list(queryable)}: equality must name a prefix "
            f"of those fields in order, got {list(eq)}"
        )
    for name, value in eq.items():
        values.check_value(value, f"eq[{name!r}]")
    prefix = keys.encode_tuple(list(eq.values()))
    low, high = prefix, keys.successor(prefix) if prefix else None
    if rng is None:
        return low, high
    expected = queryable[len(eq)] if len(eq) < len(queryable) else None
    if rng.field != expected:
        raise InvalidQueryError(
            f"index {t.name}.{index}: a range must be on the field after the equality "
            f"prefix ({expected!r}), got {rng.field!r}"
        )
    if rng.gt is not values.UNDEFINED and rng.gte is not values.UNDEFINED:
        raise InvalidQueryError("give at most one of gt and gte")
    if rng.lt is not values.UNDEFINED and rng.lte is not values.UNDEFINED:
        raise InvalidQueryError("give at most one of lt and lte")
    for name in ("gt", "gte", "lt", "lte"):
        bound = getattr(rng, name)
        if bound is not values.UNDEFINED:
            values.check_value(bound, f"range.{name}")
            at = prefix + keys.encode_value(bound)
            if name == "gt":
                low = max(low, keys.successor(at) or at)
            elif name == "gte":
                low = max(low, at)
            elif name == "lt":
                high = at if high is None else min(high, at)
            else:
                after = keys.successor(at)
                high = after if high is None or after is None else min(high, after)
    return low, high
