"""The shape line of a legacy snapshot's ``generated_schema.jsonl``, and what it restores.

Line 1 of a legacy table's ``generated_schema.jsonl`` is a JSON string holding the shape
Convex inferred for the whole table, for example
``{"_creationTime": normalfloat64, "_id": id<10007>, "n": int64, "tags"?: array<string>}``.
The grammar read here::

    shape   := member ("|" member)*
    member  := object | name "<" args ">" | name | string literal | number literal
    object  := "{" [field ("," field)* [","]] "}"
    field   := (string literal | name) ["?"] ":" shape
    args    := shape ("," shape)*

Names: ``int64``, ``float64``, ``normalfloat64``, ``negativezero``, ``nan``, ``inf`` /
``positiveinf``, ``negativeinf``, ``bytes``, ``string``, ``boolean``, ``null``, ``never``
(an empty table), ``any`` / ``unknown``; with arguments ``id<table>``, ``array<s>``,
``set<s>``, ``map<k, v>`` and ``record<k, v>``. A name not in these lists is read as
``any`` and reported (:attr:`Parsed.unknown`), so an import keeps such values as read.

Clean JSON loses the types the shape still knows: where it says ``int64`` a decimal string
becomes an Int64, ``bytes`` a base64 string becomes bytes, a float shape turns the strings
``"NaN"``/``"Infinity"``/``"-Infinity"`` back into floats and ``negativezero`` turns ``0``
into ``-0.0``. A union converts only when every member the value fits agrees on the
result: ``int64 | null`` turns ``"5"`` into ``5``, ``int64 | string`` leaves it (the
per-document hints settle such fields).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_DECIMAL = re.compile(r"-?[0-9]+")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?n?)
      | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
      | (?P<punct>[{}<>,:|?])
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)

# Leaves: names that take no arguments.
LEAVES = {
    "int64",
    "float64",
    "normalfloat64",
    "negativezero",
    "nan",
    "inf",
    "positiveinf",
    "negativeinf",
    "bytes",
    "string",
    "boolean",
    "null",
    "never",
    "any",
    "unknown",
}
_ALIASES = {"unknown": "any", "positiveinf": "inf"}
_SPECIALS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_FLOAT_LEAVES = {"float64", "normalfloat64", "negativezero", "nan", "inf", "negativeinf"}


class ShapeSyntaxError(ValueError):
    """A shape line that is not in the shape language at all."""


class Mismatch(ValueError):
    """A value that does not fit a shape; ``path`` says where in the document."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def __str__(self) -> str:
        where = ".".join(self.path)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Shape:
    """One node. ``kind`` is a leaf name (``int64``...), ``literal``, ``id``, ``object``,
    ``array``, ``set``, ``map``, ``record`` or ``union``."""

    kind: str
    literal: Any = None  # a literal's value; an id's table
    fields: tuple[tuple[str, bool, Shape], ...] = ()  # (name, optional, shape) of an object
    items: tuple[Shape, ...] = ()  # array/set: (element,); map/record: (key, value); union
    work: bool = field(default=False, compare=False)  # whether clean JSON lost a type here

    def field_shape(self, name: str) -> Shape | None:
        for key, _, shape in self.fields:
            if key == name:
                return shape
        return None


ANY = Shape("any")


def _node(kind: str, **parts: Any) -> Shape:
    probe = Shape(kind, **parts)
    if kind in {"int64", "bytes"} or kind in _FLOAT_LEAVES - {"normalfloat64"}:
        work = True
    elif kind in {"object"}:
        work = any(s.work for _, _, s in probe.fields)
    elif kind in {"array", "union"}:
        work = any(s.work for s in probe.items)
    elif kind == "record":
        work = probe.items[1].work
    else:  # set and map are kept as read; the other leaves, ids and literals lose nothing
        work = False
    return Shape(kind, **parts, work=work)


@dataclass
class Parsed:
    shape: Shape
    unknown: list[str]  # names not in the shape language, each once, read as ``any``


def parse_shape(text: str) -> Parsed:
    """The shape ``text`` describes. Raises :class:`ShapeSyntaxError` for text that is not
    in the shape language (unbalanced brackets, a missing ``:``...)."""
    parser = _Parser(text)
    shape = parser.union()
    if (token := parser.peek()) is not None:
        parser.fail(f"unexpected {token[1]!r}")
    return Parsed(shape, parser.unknown)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
        self.at = 0
        self.unknown: list[str] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            self.fail("the shape ends too soon")
        self.at += 1
        return token

    def accept(self, punct: str) -> bool:
        if self.peek() == ("punct", punct):
            self.at += 1
            return True
        return False

    def expect(self, punct: str) -> None:
        if not self.accept(punct):
            found = self.peek()
            self.fail(f"expected {punct!r}, found {found[1] if found else 'the end'!r}")

    def fail(self, message: str) -> NoReturn:
        raise ShapeSyntaxError(f"{message} (token {self.at + 1})")

    def union(self) -> Shape:
        members = [self.member()]
        while self.accept("|"):
            members.append(self.member())
        if len(members) == 1:
            return members[0]
        return _node("union", items=tuple(members))

    def member(self) -> Shape:
        kind, text = self.take()
        if kind == "punct" and text == "{":
            return self.object()
        if kind == "string":
            return _node("literal", literal=_string(text, self))
        if kind == "number":
            return _node("literal", literal=float(text.rstrip("n")))
        if kind != "name":
            self.fail(f"unexpected {text!r}")
        if self.accept("<"):
            args = [self.argument(text)]
            while self.accept(","):
                args.append(self.argument(text))
            self.expect(">")
            return self.generic(text, args)
        if text in LEAVES:
            return _node(_ALIASES.get(text, text))
        self.note(text)
        return ANY

    def argument(self, name: str) -> Shape | str:
        if name == "id":  # a table number or name, not a shape
            kind, text = self.take()
            if kind == "string":
                return _string(text, self)
            if kind in {"number", "name"}:
                return text
            self.fail(f"unexpected {text!r} in id<...>")
        return self.union()

    def generic(self, name: str, args: list[Any]) -> Shape:
        wanted = {"id": 1, "array": 1, "set": 1, "map": 2, "record": 2}.get(name)
        if wanted is None:
            self.note(f"{name}<...>")
            return ANY
        if len(args) != wanted:
            self.fail(f"{name}<...> takes {wanted} argument(s), got {len(args)}")
        if name == "id":
            return _node("id", literal=args[0])
        return _node(name, items=tuple(args))

    def object(self) -> Shape:
        fields: list[tuple[str, bool, Shape]] = []
        while not self.accept("}"):
            kind, text = self.take()
            if kind == "string":
                name = _string(text, self)
            elif kind == "name":
                name = text
            else:
                self.fail(f"expected a field name, found {text!r}")
            optional = self.accept("?")
            self.expect(":")
            fields.append((name, optional, self.union()))
            if not self.accept(","):
                self.expect("}")
                break
        return _node("object", fields=tuple(fields))

    def note(self, name: str) -> None:
        if name not in self.unknown:
            self.unknown.append(name)


def _string(token: str, parser: _Parser) -> str:
    try:
        return json.loads(token)
    except ValueError:
        parser.fail(f"bad string {token}")


def restore(value: Any, shape: Shape, strict: bool = False) -> Any:
    """``value`` as clean JSON gave it, with the types ``shape`` restores. Raises
    :class:`Mismatch` where the value cannot be of that shape. Only the parts where a type
    was lost are visited unless ``strict`` (used to tell a union's members apart)."""
    if not strict and not shape.work:
        return value
    kind = shape.kind
    if kind == "object":
        return _object(value, shape, strict)
    if kind == "array":
        if not isinstance(value, list):
            raise Mismatch(f"expected an array, got {_show(value)}")
        return _each(value, shape.items[0], strict)
    if kind == "record":
        if not isinstance(value, dict):
            raise Mismatch(f"expected an object, got {_show(value)}")
        out = {}
        for key, item in value.items():
            out[key] = _at(key, item, shape.items[1], strict)
        return out
    if kind == "union":
        return _union(value, shape)
    return _leaf(value, shape)


def _object(value: Any, shape: Shape, strict: bool) -> Any:
    if not isinstance(value, dict):
        raise Mismatch(f"expected an object, got {_show(value)}")
    if strict:
        names = {name for name, _, _ in shape.fields}
        for key in value:
            if key not in names:
                raise Mismatch(f"no field {key!r} in the shape")
    out = dict(value)
    for name, optional, inner in shape.fields:
        if name in value:
            if strict or inner.work:
                out[name] = _at(name, value[name], inner, strict)
        elif strict and not optional:
            raise Mismatch(f"the field {name!r} is missing")
    return out


def _each(items: list[Any], shape: Shape, strict: bool) -> list[Any]:
    return [_at(str(i), item, shape, strict) for i, item in enumerate(items)]


def _at(key: str, value: Any, shape: Shape, strict: bool) -> Any:
    try:
        return restore(value, shape, strict)
    except Mismatch as exc:
        exc.path.insert(0, key)
        raise


def _union(value: Any, shape: Shape) -> Any:
    results = []
    first: Mismatch | None = None
    for member in shape.items:
        try:
            results.append(restore(value, member, strict=True))
        except Mismatch as exc:
            first = first or exc
    if not results:
        raise Mismatch(f"fits no member of the union ({first})")
    if all(same(results[0], other) for other in results[1:]):
        return results[0]
    return value  # ambiguous: kept as read


def _leaf(value: Any, shape: Shape) -> Any:
    kind = shape.kind
    if kind == "any":
        return value
    if kind == "int64":
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            number = int(value)
            if INT64_MIN <= number <= INT64_MAX:
                return number
        raise Mismatch(f"expected an int64 as a decimal string, got {_show(value)}")
    if kind == "bytes":
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                pass
        raise Mismatch(f"expected bytes as base64, got {_show(value)}")
    if kind in _FLOAT_LEAVES:
        return _float(value, kind)
    if kind in {"string", "id"}:
        if isinstance(value, str):
            return value
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
    elif kind == "null":
        if value is None:
            return value
    elif kind == "literal":
        if type(value) is type(shape.literal) and value == shape.literal:
            return value
        kind = json.dumps(shape.literal)
    elif kind in {"set", "map"}:
        return value  # clean JSON's sets and maps are kept as read
    raise Mismatch(f"expected {kind}, got {_show(value)}")


def _float(value: Any, kind: str) -> float:
    if isinstance(value, float):
        number = value
    elif isinstance(value, str) and value in _SPECIALS:
        number = _SPECIALS[value]
    else:
        raise Mismatch(f"expected a {kind}, got {_show(value)}")
    if kind == "float64":
        return number
    if kind == "normalfloat64" and math.isfinite(number):
        return number
    if kind == "negativezero" and number == 0:
        return -0.0
    if kind == "nan" and math.isnan(number):
        return number
    if kind == "inf" and number == math.inf:
        return number
    if kind == "negativeinf" and number == -math.inf:
        return number
    raise Mismatch(f"expected a {kind}, got {_show(value)}")


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types throughout (``5 == 5.0`` is not enough here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return a == b


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
