"""JavaScript and TypeScript modules that hold plain data, evaluated without running them.

AI Town keeps its characters and maps as modules (``data/characters.ts``,
``data/gentle.js``): exported constants of object, array, string and number literals, names
bound to such constants, and names imported from sibling data modules. Each module is
parsed with tree-sitter's TypeScript grammar (a superset of the JavaScript in these files),
and only that plain data is evaluated: literals, template strings without substitutions,
a minus sign, names, ``x[0]``, ``x.key`` and ``x.length``, and ``as``/``satisfies`` casts
and type annotations, which are skipped. Anything else (a call, a function, a statement
that does something) stops the read with a :class:`CheckoutError` naming the file and line.
Relative imports are followed within the checkout (``.ts``, ``.js``, ``.json``, index
files); an import is resolved only when a value uses it, so type-only imports cost nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

#: how a relative import's path may be completed, in the order tried
SUFFIXES = ("", ".ts", ".js", ".mjs", ".json", "/index.ts", "/index.js")
#: top-level statements that declare or describe and do nothing
_QUIET = {
    "comment",
    "empty_statement",
    "type_alias_declaration",
    "interface_declaration",
    "ambient_declaration",
    "hash_bang_line",
}
_CASTS = {"as_expression", "satisfies_expression", "non_null_expression", "type_assertion"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r\n|[\s\S])")


class CheckoutError(ValueError):
    """An AI Town checkout that cannot be read: one line naming the file and what was
    expected there."""


def _parser() -> Any:
    import tree_sitter
    import tree_sitter_typescript

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_typescript.language_typescript()))


def _unescape(raw: str) -> str:
    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] == "u" and e[1:2] == "{":
            return chr(int(e[2:-1], 16))
        if e[0] in "ux" and len(e) > 1:
            return chr(int(e[1:], 16))
        if e in ("\n", "\r\n", "\r", "\u2028", "\u2029"):
            return ""  # a line continuation
        return _ESCAPES.get(e, e)

    return _ESCAPE.sub(one, raw)


def _number(text: str) -> float | int:
    text = text.replace("_", "").rstrip("n")
    lower = text.lower()
    if lower.startswith(("0x", "0o", "0b")):
        return int(text, {"x": 16, "o": 8, "b": 2}[lower[1]])
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in lower else value


class Modules:
    """The data modules of one checkout, each parsed once and evaluated as asked."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._parse = _parser()
        self._modules: dict[Path, _Module] = {}

    def where(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def module(self, path: Path) -> _Module:
        path = path.resolve()
        if path not in self._modules:
            self._modules[path] = _Module(self, path)
        return self._modules[path]

    def export(self, path: Path, name: str) -> Any:
        """The value ``path`` exports as ``name``."""
        module = self.module(path)
        if name not in module.exports:
            raise CheckoutError(f"{self.where(path)}: expected an export named {name!r}")
        return module.value(module.exports[name])

    def imports(self, path: Path) -> list[tuple[str, str, str]]:
        """``(local name, imported name or "*", source)`` for each import of a module, which
        need not be plain data: how a checkout says which map module it uses."""
        tree = self._read_tree(path)
        out = []
        for statement in tree.root_node.children:
            if statement.type == "import_statement":
                out += _import_bindings(statement)
        return out

    def _read_tree(self, path: Path) -> Any:
        try:
            source = path.read_bytes()
        except OSError:
            raise CheckoutError(f"{self.where(path)}: expected a module, found no file") from None
        tree = self._parse.parse(source)
        if tree.root_node.has_error:
            bad = _first_error(tree.root_node)
            raise CheckoutError(
                f"{self.where(path)}: line {bad.start_point[0] + 1}: expected JavaScript or "
                "TypeScript, found text that does not parse"
            )
        return tree

    def resolve(self, importer: Path, source: str) -> Path:
        where = self.where(importer)
        if not source.startswith(("./", "../")):
            raise CheckoutError(
                f"{where}: expected data imported from a sibling module (./ or ../), "
                f"found an import from {source!r}"
            )
        base = importer.parent / source
        for suffix in SUFFIXES:
            candidate = Path(str(base) + suffix)
            if candidate.is_file():
                resolved = candidate.resolve()
                if not resolved.is_relative_to(self.root):
                    break
                return resolved
        raise CheckoutError(f"{where}: expected a module at {source!r}, found no file")


def _first_error(node: Any) -> Any:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error:
            return _first_error(child)
    return node


def _import_bindings(statement: Any) -> list[tuple[str, str, str]]:
    source_node = statement.child_by_field_name("source")
    if source_node is None:
        return []
    source = _unescape(source_node.text.decode()[1:-1])
    if any(c.type == "type" for c in statement.children):
        return []  # import type {...}: no values
    out = []
    for clause in statement.children:
        if clause.type != "import_clause":
            continue
        for part in clause.named_children:
            if part.type == "identifier":  # import x from "..."
                out.append((part.text.decode(), "default", source))
            elif part.type == "namespace_import":
                out.append((part.named_children[0].text.decode(), "*", source))
            elif part.type == "named_imports":
                for spec in part.named_children:
                    if spec.type != "import_specifier":
                        continue
                    name = spec.child_by_field_name("name").text.decode()
                    alias = spec.child_by_field_name("alias")
                    out.append((alias.text.decode() if alias else name, name, source))
    return out


class _Module:
    """One parsed module: its top-level names and exports, evaluated on demand."""

    def __init__(self, modules: Modules, path: Path) -> None:
        self.modules = modules
        self.path = path
        self.where = modules.where(path)
        self.is_json = path.suffix == ".json"
        self.bindings: dict[str, Callable[[], Any]] = {}
        self.exports: dict[str, str] = {}
        self._values: dict[str, Any] = {}
        self._evaluating: set[str] = set()
        self._declared: list[str] = []  # imports are evaluated only when used
        if self.is_json:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CheckoutError(f"{self.where}: expected JSON ({exc})") from None
            self._values["default"] = data
            self.exports["default"] = "default"
            if isinstance(data, dict):
                for key, value in data.items():
                    self._values.setdefault(key, value)
                    self.exports.setdefault(key, key)
            return
        tree = modules._read_tree(path)
        for statement in tree.root_node.children:
            self._declare(statement)
        for name in self._declared:  # every declaration must be plain data
            self.value(name)

    def _fail(self, node: Any, expected: str) -> CheckoutError:
        found = node.type.replace("_", " ")
        return CheckoutError(
            f"{self.where}: line {node.start_point[0] + 1}: expected {expected}, found {found}"
        )

    def _declare(self, statement: Any) -> None:
        kind = statement.type
        if kind in _QUIET:
            return
        if kind == "import_statement":
            for local, name, source in _import_bindings(statement):
                self.bindings[local] = self._importer(name, source)
            return
        if kind in ("lexical_declaration", "variable_declaration"):
            self._declare_variables(statement, exported=False)
            return
        if kind == "export_statement":
            declaration = statement.child_by_field_name("declaration")
            value = statement.child_by_field_name("value")
            if declaration is not None:
                if declaration.type in _QUIET:
                    return
                if declaration.type not in ("lexical_declaration", "variable_declaration"):
                    raise self._fail(declaration, "an exported constant of plain data")
                self._declare_variables(declaration, exported=True)
            elif value is not None:
                self.bindings["default"] = partial(self._eval, value)
                self.exports["default"] = "default"
            else:
                self._declare_export_clause(statement)
            return
        raise self._fail(statement, "only imports, and declarations and exports of plain data")

    def _declare_variables(self, declaration: Any, exported: bool) -> None:
        for declarator in declaration.named_children:
            if declarator.type != "variable_declarator":
                continue
            name_node = declarator.child_by_field_name("name")
            value = declarator.child_by_field_name("value")
            if name_node.type != "identifier":
                raise self._fail(name_node, "a plain name")
            if value is None:
                raise self._fail(declarator, "a value")
            name = name_node.text.decode()
            self.bindings[name] = partial(self._eval, value)
            self._declared.append(name)
            if exported:
                self.exports[name] = name

    def _declare_export_clause(self, statement: Any) -> None:
        source_node = statement.child_by_field_name("source")
        source = _unescape(source_node.text.decode()[1:-1]) if source_node else None
        for clause in statement.named_children:
            if clause.type != "export_clause":
                continue
            for spec in clause.named_children:
                name = spec.child_by_field_name("name").text.decode()
                alias = spec.child_by_field_name("alias")
                exported = alias.text.decode() if alias else name
                if source is None:
                    self.exports[exported] = name
                else:
                    self.bindings[f"\0{exported}"] = self._importer(name, source)
                    self.exports[exported] = f"\0{exported}"

    def _importer(self, name: str, source: str) -> Callable[[], Any]:
        def load() -> Any:
            path = self.modules.resolve(self.path, source)
            module = self.modules.module(path)
            if name == "*":
                return {key: module.value(local) for key, local in module.exports.items()}
            if name not in module.exports:
                raise CheckoutError(
                    f"{self.where}: expected {module.where} to export {name!r}, it does not"
                )
            return module.value(module.exports[name])

        return load

    def value(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        if name not in self.bindings:
            raise CheckoutError(f"{self.where}: expected a declaration of {name!r}")
        if name in self._evaluating:
            raise CheckoutError(f"{self.where}: expected plain data, {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            self._values[name] = self.bindings[name]()
        finally:
            self._evaluating.discard(name)
        return self._values[name]

    def _eval(self, node: Any) -> Any:
        kind = node.type
        if kind == "number":
            return _number(node.text.decode())
        if kind == "string":
            return _unescape(node.text.decode()[1:-1])
        if kind == "template_string":
            if any(c.type == "template_substitution" for c in node.named_children):
                raise self._fail(node, "a template string without ${...}")
            return _unescape(node.text.decode()[1:-1])
        if kind == "true":
            return True
        if kind == "false":
            return False
        if kind == "null":
            return None
        if kind == "array":
            return [self._eval(e) for e in node.named_children if e.type != "comment"]
        if kind == "object":
            return self._object(node)
        if kind == "parenthesized_expression":
            return self._eval(node.named_children[0])
        if kind in _CASTS:
            return self._eval(node.named_children[0])
        if kind == "unary_expression":
            operator = node.child_by_field_name("operator").type
            argument = self._eval(node.child_by_field_name("argument"))
            if operator in ("-", "+") and isinstance(argument, (int, float)):
                return -argument if operator == "-" else argument
            raise self._fail(node, "a number with a sign")
        if kind in ("identifier", "undefined"):
            name = node.text.decode()
            if name == "undefined":
                return None
            if name in ("Infinity", "NaN") and name not in self.bindings:
                return math.inf if name == "Infinity" else math.nan
            if name not in self.bindings:
                raise CheckoutError(
                    f"{self.where}: line {node.start_point[0] + 1}: expected {name!r} to be "
                    "declared or imported in the module"
                )
            return self.value(name)
        if kind == "member_expression":
            target = self._eval(node.child_by_field_name("object"))
            return self._member(node, target, node.child_by_field_name("property").text.decode())
        if kind == "subscript_expression":
            target = self._eval(node.child_by_field_name("object"))
            return self._member(node, target, self._eval(node.child_by_field_name("index")))
        raise self._fail(node, "plain data (a literal, or a name bound to one)")

    def _member(self, node: Any, target: Any, key: Any) -> Any:
        if key == "length" and isinstance(target, (list, str)):
            return len(target)
        if isinstance(target, list) and isinstance(key, int) and 0 <= key < len(target):
            return target[key]
        if isinstance(target, dict) and isinstance(key, str) and key in target:
            return target[key]
        raise CheckoutError(
            f"{self.where}: line {node.start_point[0] + 1}: expected {key!r} to be in "
            f"{node.child_by_field_name('object').text.decode()[:40]}, it is not"
        )

    def _object(self, node: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for member in node.named_children:
            kind = member.type
            if kind == "comment":
                continue
            if kind == "pair":
                key_node = member.child_by_field_name("key")
                if key_node.type in ("property_identifier", "identifier"):
                    key = key_node.text.decode()
                elif key_node.type == "string":
                    key = _unescape(key_node.text.decode()[1:-1])
                elif key_node.type == "number":
                    key = str(_number(key_node.text.decode()))
                else:
                    raise self._fail(key_node, "a plain key")
                out[key] = self._eval(member.child_by_field_name("value"))
            elif kind == "shorthand_property_identifier":
                name = member.text.decode()
                if name not in self.bindings:
                    raise self._fail(member, f"{name!r} declared or imported in the module")
                out[name] = self.value(name)
            elif kind == "spread_element":
                spread = self._eval(member.named_children[0])
                if not isinstance(spread, dict):
                    raise self._fail(member, "an object to spread")
                out.update(spread)
            else:
                raise self._fail(member, "a key and a plain value")
        return out
