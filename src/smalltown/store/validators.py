"""What a table's documents must look like, declared as Convex's ``v`` validators are.

    Table("users", document={"name": v.string(), "age": v.optional(v.float64())})

A table declared with a ``document`` validator refuses writes that do not fit it, and an
import refuses a snapshot whose documents do not (unless told to take them as they are);
a table declared without one, or not declared at all, takes any Convex value. Values are
the store's (``values.py``): an Int64 is a Python ``int``, a Float64 a ``float``.
``problem`` says, for a value that does not fit, which field and why, in Convex's type
names; the system fields ``_id`` and ``_creationTime`` are not the validator's business.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smalltown.store.errors import InvalidIdError, InvalidValueError
from smalltown.store.ids import decode_id
from smalltown.store.values import SYSTEM_FIELDS


class DocumentMismatchError(InvalidValueError):
    """A document that does not fit its table's declared validator; ``field`` is the path
    of the first field that does not fit."""

    def __init__(self, table: str, field: str, why: str, id: str | None = None) -> None:
        who = f"document {id}" if id else "a document"
        super().__init__(f"{who} of {table} does not fit its schema: field {field} {why}")
        self.table, self.field, self.why, self.id = table, field, why, id

    def of(self, id: str) -> DocumentMismatchError:
        """The same mismatch, naming the document."""
        return DocumentMismatchError(self.table, self.field, self.why, id)


def type_name(value: Any) -> str:
    """A value's Convex type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class Validator:
    """The shape a value must have."""

    def problem(self, value: Any, path: str) -> tuple[str, str] | None:
        """None if ``value`` fits; else the path of the field that does not and why."""
        if self.fits(value):
            return None
        return path, f"must be {self.describe()}, got {type_name(value)}"

    def fits(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class _Leaf(Validator):
    name: str

    def fits(self, value: Any) -> bool:
        return type_name(value) == self.name

    def describe(self) -> str:
        return "a " + self.name if self.name != "int64" else "an int64"


@dataclass(frozen=True)
class _Any(Validator):
    def fits(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return "any value"


@dataclass(frozen=True)
class _Id(Validator):
    table: str

    def fits(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            decode_id(value)
        except InvalidIdError:
            return False
        return True

    def describe(self) -> str:
        return f"an id of {self.table}"


@dataclass(frozen=True)
class _Literal(Validator):
    value: Any

    def fits(self, value: Any) -> bool:
        if isinstance(self.value, float) and isinstance(value, float) and math.isnan(value):
            return math.isnan(self.value)
        return type_name(value) == type_name(self.value) and value == self.value

    def describe(self) -> str:
        return f"the literal {self.value!r}"


@dataclass(frozen=True)
class _Optional(Validator):
    """A field that may be absent (only meaningful inside an object)."""

    inner: Validator

    def problem(self, value: Any, path: str) -> tuple[str, str] | None:
        return self.inner.problem(value, path)

    def fits(self, value: Any) -> bool:
        return self.inner.problem(value, "") is None

    def describe(self) -> str:
        return self.inner.describe()


@dataclass(frozen=True)
class _Array(Validator):
    item: Validator

    def problem(self, value: Any, path: str) -> tuple[str, str] | None:
        if not isinstance(value, list):
            return super().problem(value, path)
        for i, item in enumerate(value):
            if (found := self.item.problem(item, f"{path}[{i}]")) is not None:
                return found
        return None

    def fits(self, value: Any) -> bool:
        return self.problem(value, "") is None if isinstance(value, list) else False

    def describe(self) -> str:
        return f"an array of {self.item.describe()}"


@dataclass(frozen=True)
class _Record(Validator):
    values: Validator

    def problem(self, value: Any, path: str) -> tuple[str, str] | None:
        if not isinstance(value, dict):
            return super().problem(value, path)
        for key, item in value.items():
            if (found := self.values.problem(item, _join(path, key))) is not None:
                return found
        return None

    def fits(self, value: Any) -> bool:
        return isinstance(value, dict) and self.problem(value, "") is None

    def describe(self) -> str:
        return f"a record of {self.values.describe()}"


@dataclass(frozen=True)
class _Object(Validator):
    fields: tuple[tuple[str, Validator], ...]

    def problem(self, value: Any, path: str) -> tuple[str, str] | None:
        if not isinstance(value, dict):
            return super().problem(value, path)
        declared = dict(self.fields)
        for name, validator in self.fields:
            if name not in value:
                if not isinstance(validator, _Optional):
                    return _join(path, name), "is required and missing"
                continue
            if (found := validator.problem(value[name], _join(path, name))) is not None:
                return found
        for name in value:
            if name not in declared and not (not path and name in SYSTEM_FIELDS):
                return _join(path, name), "is not in the schema"
        return None

    def fits(self, value: Any) -> bool:
        return isinstance(value, dict) and self.problem(value, "") is None

    def describe(self) -> str:
        return "an object {" + ", ".join(self.names()) + "}"

    def names(self) -> list[str]:
        return [name + ("?" if isinstance(val, _Optional) else "") for name, val in self.fields]


@dataclass(frozen=True)
class _Union(Validator):
    members: tuple[Validator, ...]

    def problem(self, value: Any, path: str) -> tuple[str, str] | None:
        if any(m.problem(value, path) is None for m in self.members):
            return None
        return path, f"must be {self.describe()}, got {type_name(value)}"

    def fits(self, value: Any) -> bool:
        return self.problem(value, "") is None

    def describe(self) -> str:
        return " or ".join(m.describe() for m in self.members)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class v:
    """Validators by Convex's names: ``v.string()``, ``v.optional(v.int64())``..."""

    @staticmethod
    def string() -> Validator:
        return _Leaf("string")

    @staticmethod
    def float64() -> Validator:
        return _Leaf("float64")

    number = float64

    @staticmethod
    def int64() -> Validator:
        return _Leaf("int64")

    @staticmethod
    def boolean() -> Validator:
        return _Leaf("boolean")

    @staticmethod
    def null() -> Validator:
        return _Leaf("null")

    @staticmethod
    def bytes() -> Validator:
        return _Leaf("bytes")

    @staticmethod
    def any() -> Validator:
        return _Any()

    @staticmethod
    def id(table: str) -> Validator:
        return _Id(table)

    @staticmethod
    def literal(value: Any) -> Validator:
        return _Literal(value)

    @staticmethod
    def optional(inner: Validator) -> Validator:
        return _Optional(inner)

    @staticmethod
    def array(item: Validator) -> Validator:
        return _Array(item)

    @staticmethod
    def record(keys: Validator, values: Validator) -> Validator:
        return _Record(values)  # keys are field names, strings in any case

    @staticmethod
    def object(fields: Mapping[str, Validator]) -> Validator:
        return _Object(tuple(fields.items()))

    @staticmethod
    def union(*members: Validator) -> Validator:
        return _Union(tuple(members))


def document_validator(declared: Validator | Mapping[str, Validator]) -> Validator:
    """A table's ``document``: a validator, or the fields of an object (as ``defineTable``
    takes them)."""
    return declared if isinstance(declared, Validator) else v.object(declared)


def check_fit(validator: Validator, body: Mapping[str, Any], table: str) -> None:
    """Raise :class:`DocumentMismatchError` unless ``body`` fits ``validator``."""
    found = validator.problem(dict(body), "")
    if found is not None:
        field, why = found
        raise DocumentMismatchError(table, field, why)
