"""Where functions are found by path."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from smalltown.runtime.errors import FunctionNotFoundError
from smalltown.runtime.functions import ATTRIBUTE, FunctionSpec


def canonical_path(path: str) -> str:
    """``dir/mod.js:fn`` → ``dir/mod:fn``; ``dir/mod`` → ``dir/mod:default`` (as Convex)."""
    if not isinstance(path, str) or not path:
        raise FunctionNotFoundError(f"a function path must be a non-empty string, got {path!r}")
    module, _, name = path.partition(":")
    if module.endswith(".js"):
        module = module[:-3]
    return f"{module}:{name or 'default'}"


class Registry:
    def __init__(self) -> None:
        self._functions: dict[str, FunctionSpec] = {}

    def add_module(self, module: ModuleType, prefix: str) -> None:
        """Register every decorated function of ``module`` as ``prefix:name``."""
        for name, value in vars(module).items():
            spec = getattr(value, ATTRIBUTE, None)
            if (
                isinstance(spec, FunctionSpec)
                and getattr(value, "__module__", None) == module.__name__
            ):
                path = f"{prefix}:{name}"
                if path in self._functions:
                    raise ValueError(f"function {path} is registered twice")
                spec.path = path
                self._functions[path] = spec

    def add(self, path: str, fn: Callable[..., Any]) -> None:
        """Register one decorated function at ``path`` (``dir/mod:name``)."""
        spec = getattr(fn, ATTRIBUTE, None)
        if not isinstance(spec, FunctionSpec):
            raise ValueError(f"{path}: not a function declared with @query, @mutation...")
        path = canonical_path(path)
        if path in self._functions:
            raise ValueError(f"function {path} is registered twice")
        spec.path = path
        self._functions[path] = spec

    @classmethod
    def from_package(cls, package: str | ModuleType) -> Registry:
        """Every function in every module under ``package``; paths relative to it."""
        root = importlib.import_module(package) if isinstance(package, str) else package
        registry = cls()
        for info in pkgutil.walk_packages(root.__path__, prefix=root.__name__ + "."):
            module = importlib.import_module(info.name)
            relative = info.name[len(root.__name__) + 1 :].replace(".", "/")
            registry.add_module(module, relative)
        return registry

    def merged(self, other: Registry) -> Registry:
        out = Registry()
        out._functions = {**self._functions, **other._functions}
        return out

    def get(self, path: str, *, public_only: bool) -> FunctionSpec:
        canonical = canonical_path(path)
        spec = self._functions.get(canonical)
        if spec is None or (public_only and not spec.public):
            raise FunctionNotFoundError(f"Could not find public function for '{canonical}'")
        return spec

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self._functions.values())
