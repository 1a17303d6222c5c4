"""Schemas declared in Python: tables, their secondary indexes and vector indexes.

    schema = Schema([
        Table("messages", indexes=[Index("by_conversation", ["conversationId"])]),
        Table("memoryEmbeddings", vector_indexes=[
            VectorIndex("embedding", field="embedding", dimensions=1024,
                        filter_fields=["playerId"]),
        ]),
    ])

Like Convex, every table also has ``by_id`` and ``by_creation_time``, and every secondary
index ends with ``_creationTime`` and ``_id`` so its entries are unique and ordered.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

from smalltown.store.errors import SchemaError, UnknownIndexError, UnknownTableError
from smalltown.store.validators import Validator, document_validator

FIRST_TABLE_NUMBER: Final = 10001
#: where tables named with a leading "_" (the runtime's own) are numbered: an app's
#: tables count up from 10001, as Convex numbers them, so a snapshot's numbers never meet
#: these (below 16384, an id stays 32 characters)
FIRST_SYSTEM_TABLE_NUMBER: Final = 16320
BY_ID: Final = "by_id"
BY_CREATION_TIME: Final = "by_creation_time"
MIN_VECTOR_DIMENSIONS: Final = 2
MAX_VECTOR_DIMENSIONS: Final = 4096
MAX_VECTOR_FILTER_FIELDS: Final = 16
_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]{0,63}$")  # a leading "_" marks system tables
_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SchemaError(
            f"{kind} name {name!r} is invalid: use a letter, then up to 63 letters, digits or '_'"
            " (a leading '_' is for system tables)"
        )


def _check_path(owner: str, path: str) -> None:
    if not isinstance(path, str) or not _FIELD_PATH.match(path):
        raise SchemaError(f"{owner}: field path {path!r} is invalid")


@dataclass(frozen=True)
class Index:
    name: str
    fields: Sequence[str]

    def __post_init__(self) -> None:
        _check_name("index", self.name)
        object.__setattr__(self, "fields", tuple(self.fields))
        if self.name == BY_CREATION_TIME and not self.fields:
            return  # the built-in index, ordered by the appended system fields alone
        if not self.fields:
            raise SchemaError(f"index {self.name!r} needs at least one field")
        for path in self.fields:
            _check_path(f"index {self.name!r}", path)
            if path in ("_id", "_creationTime"):
                raise SchemaError(
                    f"index {self.name!r}: {path} is appended to every index automatically"
                )
        if len(set(self.fields)) != len(self.fields):
            raise SchemaError(f"index {self.name!r} names a field twice")

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The fields an entry is ordered by, system fields included."""
        return (*self.fields, "_creationTime", "_id")


CREATION_TIME_INDEX: Final = Index(BY_CREATION_TIME, ())


@dataclass(frozen=True)
class VectorIndex:
    name: str
    field: str
    dimensions: int
    filter_fields: Sequence[str] = ()
    #: the database's copy of this index wins when the schema is applied again: one built
    #: keeps its dimension, one dropped from a table that exists stays dropped (an app
    #: re-embedding drops it while vectors change size); ``dimensions`` sizes a new table's.
    #: For apps whose vectors' size is found at run time; they resize by applying the
    #: index without this flag.
    keep_stored_dimensions: bool = dataclasses.field(default=False, compare=False)

    def __post_init__(self) -> None:
        _check_name("vector index", self.name)
        _check_path(f"vector index {self.name!r}", self.field)
        object.__setattr__(self, "filter_fields", tuple(self.filter_fields))
        if (
            isinstance(self.dimensions, bool)
            or not isinstance(self.dimensions, int)
            or not (MIN_VECTOR_DIMENSIONS <= self.dimensions <= MAX_VECTOR_DIMENSIONS)
        ):
            raise SchemaError(
                f"vector index {self.name!r}: dimensions must be an integer from "
                f"{MIN_VECTOR_DIMENSIONS} to {MAX_VECTOR_DIMENSIONS}, got {self.dimensions!r}"
            )
        if len(self.filter_fields) > MAX_VECTOR_FILTER_FIELDS:
            raise SchemaError(
                f"vector index {self.name!r}: at most {MAX_VECTOR_FILTER_FIELDS} filter fields"
            )
        for path in self.filter_fields:
            _check_path(f"vector index {self.name!r}", path)


@dataclass(frozen=True)
class Table:
    name: str
    indexes: Sequence[Index] = ()
    vector_indexes: Sequence[VectorIndex] = ()
    #: what its documents must look like (``validators.py``); None: any document
    document: Validator | Mapping[str, Validator] | None = None
    _by_name: dict[str, Index | VectorIndex] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        _check_name("table", self.name)
        object.__setattr__(self, "indexes", tuple(self.indexes))
        object.__setattr__(self, "vector_indexes", tuple(self.vector_indexes))
        if self.document is not None:
            object.__setattr__(self, "document", document_validator(self.document))
        declared: list[Index | VectorIndex] = [*self.indexes, *self.vector_indexes]
        for ix in declared:
            if ix.name in (BY_ID, BY_CREATION_TIME):
                raise SchemaError(f"index name {ix.name!r} is built in; choose another")
            if ix.name in self._by_name:
                raise SchemaError(f"table {self.name!r} declares index {ix.name!r} twice")
            self._by_name[ix.name] = ix

    @property
    def validator(self) -> Validator | None:
        """What its documents must fit (``document``, made a validator), or None."""
        return self.document if isinstance(self.document, Validator) else None

    def index(self, name: str) -> Index:
        if name == BY_CREATION_TIME:
            return CREATION_TIME_INDEX
        found = self._by_name.get(name)
        if not isinstance(found, Index):
            raise UnknownIndexError(
                f"table {self.name!r} has no index {name!r}; it has: "
                + ", ".join([BY_CREATION_TIME, *(i.name for i in self.indexes)])
            )
        return found

    def vector_index(self, name: str) -> VectorIndex:
        found = self._by_name.get(name)
        if not isinstance(found, VectorIndex):
            names = ", ".join(v.name for v in self.vector_indexes) or "none"
            raise UnknownIndexError(
                f"table {self.name!r} has no vector index {name!r}; it has: {names}"
            )
        return found

    @property
    def index_names(self) -> tuple[str, ...]:
        """Names of the declared secondary and vector indexes."""
        return tuple(self._by_name)

    @cached_property  # read for every document written
    def all_indexes(self) -> tuple[Index, ...]:
        """Secondary indexes plus ``by_creation_time``; what an index key is computed for."""
        return (self.index(BY_CREATION_TIME), *self.indexes)

    @classmethod
    def from_description(cls, name: str, described: Mapping[str, Any]) -> Table:
        """The table a database holds, from its stored ``describe()`` (its indexes; the
        document validator is the app's and is not stored)."""
        return cls(
            name,
            [Index(i["name"], i["fields"]) for i in described.get("indexes", [])],
            [
                VectorIndex(x["name"], x["field"], x["dimensions"], x.get("filterFields", []))
                for x in described.get("vectorIndexes", [])
            ],
        )

    def describe(self) -> dict[str, Any]:
        return {
            "indexes": [{"name": i.name, "fields": list(i.fields)} for i in self.indexes],
            "vectorIndexes": [
                {
                    "name": v.name,
                    "field": v.field,
                    "dimensions": v.dimensions,
                    "filterFields": list(v.filter_fields),
                }
                for v in self.vector_indexes
            ],
        }


@dataclass(frozen=True)
class Schema:
    tables: Sequence[Table]
    _by_name: dict[str, Table] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", tuple(self.tables))
        for table in self.tables:
            if table.name in self._by_name:
                raise SchemaError(f"table {table.name!r} is declared twice")
            self._by_name[table.name] = table

    def table(self, name: str) -> Table:
        found = self._by_name.get(name)
        if found is None:
            raise UnknownTableError(
                f"unknown table {name!r}; the schema declares: "
                + (", ".join(sorted(self._by_name)) or "no tables")
            )
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def with_vector_dimensions(self, table: str, index: str, dimensions: int) -> Schema:
        """This schema with one vector index resized (the data decides, on import); the size
        is applied as given, whatever size the database holds."""
        t = self.table(table)
        resized = [
            dataclasses.replace(v, dimensions=dimensions, keep_stored_dimensions=False)
            if v.name == index
            else v
            for v in t.vector_indexes
        ]
        return self.merged([Table(t.name, t.indexes, resized, t.document)])

    def keeping_stored_dimensions(self, stored: Mapping[str, Mapping[str, Any]]) -> Schema:
        """This schema with each ``keep_stored_dimensions`` vector index as the database
        holds it: at its stored size, or left out where a stored table lacks it
        (``stored``: table name → its stored description)."""
        changed = []
        for t in self.tables:
            if t.name not in stored or not any(v.keep_stored_dimensions for v in t.vector_indexes):
                continue
            held = {v["name"]: v for v in stored[t.name].get("vectorIndexes", [])}
            kept = []
            for v in t.vector_indexes:
                old = held.get(v.name)
                if not v.keep_stored_dimensions:
                    kept.append(v)
                elif old is not None and old.get("field") == v.field:
                    kept.append(dataclasses.replace(v, dimensions=old["dimensions"]))
                elif old is None:
                    continue  # dropped on purpose; the app builds it again when ready
                else:
                    kept.append(v)
            changed.append(Table(t.name, t.indexes, kept, t.document))
        return self.merged(changed) if changed else self

    def merged(self, tables: Iterable[Table]) -> Schema:
        """This schema with ``tables`` added or replacing tables of the same name."""
        by_name = dict(self._by_name)
        for table in tables:
            by_name[table.name] = table
        return Schema(list(by_name.values()))


def index_changes(stored: dict[str, Any] | None, table: Table) -> tuple[set[str], set[str]]:
    """Names of (secondary or vector) indexes to drop and to build, to go from the stored
    description of a table to ``table``. A changed index is dropped and built again."""

    def by_name(desc: dict[str, Any]) -> dict[str, Any]:
        return {
            **{i["name"]: ("index", i) for i in desc.get("indexes", [])},
            **{v["name"]: ("vector", v) for v in desc.get("vectorIndexes", [])},
        }

    old = by_name(stored or {})
    new = by_name(table.describe())
    drop = {name for name, d in old.items() if new.get(name) != d}
    build = {name for name, d in new.items() if old.get(name) != d}
    return drop, build


def plan_tables(
    schema: Schema, stored: dict[str, tuple[int, Any]]
) -> list[tuple[Table, int, Any | None]]:
    """Each table of ``schema`` with its number and its stored definition (None: a new
    table). Stored tables keep their numbers; a new one takes the next number from
    10001, or from ``FIRST_SYSTEM_TABLE_NUMBER`` for a system table."""
    taken = {n for n, _ in stored.values()}
    plan = []
    for table in schema.tables:
        if table.name in stored:
            number, definition = stored[table.name]
            plan.append((table, number, definition))
        else:
            number = next_number(taken, table.name)
            taken.add(number)
            plan.append((table, number, None))
    return plan


def next_number(taken: set[int], table: str) -> int:
    """A new number for ``table``: one past the highest ``taken`` in its range (an app's
    tables', or the system tables'), as numbers are never given twice: an id kept
    somewhere must not come to name a document of another table."""
    system = table.startswith("_")
    first, end = (
        (FIRST_SYSTEM_TABLE_NUMBER, 2**14)
        if system
        else (FIRST_TABLE_NUMBER, FIRST_SYSTEM_TABLE_NUMBER)
    )
    return max((n for n in taken if first <= n < end), default=first - 1) + 1
