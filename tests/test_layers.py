"""Arrows point down only: each layer imports only the layers below it, and no module imports
itself back through others (docs/architecture.md)."""

import ast
from collections import deque
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import smalltown

ROOT = Path(smalltown.__file__).parent
BELOW = {
    "store": set(),
    "engine": set(),
    "agents": {"llm"},  # errors, the LLM contract, the offline brain's templates
    "llm": set(),
    "web": set(),
    "runtime": {"store"},
    "migrate": {"store"},
    # web: the static files it serves; config: the settings it starts the app's service with
    "server": {"runtime", "store", "web", "config"},
    # keeps worlds running (runner, history, replay, LLM usage); registers no functions
    "worlds": {"runtime", "store", "engine", "agents", "llm", "config"},
    "town": {"runtime", "store", "engine", "agents", "llm", "worlds", "config"},
    "config": {"llm"},
    "bench": {"store", "runtime", "engine", "llm", "migrate", "town", "worlds"},
}
Graph = dict[str, dict[str, int]]  # module → {module it imports: line of the first import}


def _module_name(path: Path) -> str:
    parts = ("smalltown", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imported(path: Path) -> Iterator[tuple[str, int]]:
    """``(name, line)`` of every import in the file, at any depth (a function's or one under
    ``if TYPE_CHECKING`` counts too); ``from a import b`` gives ``a.b``, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def _module_of(name: str) -> str | None:
    """The smalltown module an imported name is or is defined in (None: not ours)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _module_graph() -> Graph:
    """Which smalltown modules each smalltown module imports. ``from a import b`` is an edge
    to module ``a.b`` when there is one, else to ``a`` (a name defined in ``a``)."""
    graph: Graph = {}
    for module, path in MODULES.items():
        edges: dict[str, int] = {}
        for name, line in _imported(path):
            found = _module_of(name)
            if found is not None and found != module:
                edges.setdefault(found, line)
        graph[module] = edges
    return graph


def _layers_imported(module: str, graph: Graph) -> set[str]:
    """The layers (folders or top modules under smalltown) the module imports."""
    return {other.split(".")[1] for other in graph[module] if other != "smalltown"}


def _strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for other in edges:
                if other not in index:
                    index[other] = low[other] = len(index)
                    stack.append(other)
                    on_stack.add(other)
                    work.append((other, iter(sorted(graph.get(other, {})))))
                    break
                if other in on_stack:
                    low[node] = min(low[node], index[other])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))
    return groups


def _shortest_cycle(graph: Graph, start: str, members: set[str]) -> list[str]:
    """The shortest way from ``start`` back to itself through ``members``."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if start in graph[node]:
            path = [node]
            while path[-1] != start:
                path.append(came_from[path[-1]])
            return [start, *reversed(path[:-1]), start]
        for other in sorted(graph[node]):
            if other in members and other not in came_from and other != start:
                came_from[other] = node
                queue.append(other)
    raise AssertionError(f"{start} is on no cycle")


def _cycles(graph: Graph) -> list[list[str]]:
    """Cycles that between them pass through every module on one: for each group of modules
    that import each other, a shortest cycle through each member no earlier one passed."""
    found = []
    for group in _strongly_connected(graph):
        if len(group) == 1 and group[0] not in graph[group[0]]:
            continue
        covered: set[str] = set()
        for member in group:
            if member not in covered:
                cycle = _shortest_cycle(graph, member, set(group))
                covered.update(cycle)
                found.append(cycle)
    return found


def _describe(cycle: list[str], graph: Graph) -> str:
    steps = [
        f"  {a} imports {b} ({MODULES[a].relative_to(ROOT.parent)}:{graph[a][b]})"
        for a, b in pairwise(cycle)
    ]
    return " → ".join(cycle) + "\n" + "\n".join(steps)


def test_every_layer_imports_only_the_layers_below_it():
    graph = _module_graph()
    wrong = []
    for module, path in MODULES.items():
        parts = path.relative_to(ROOT).parts
        layer = parts[0] if len(parts) > 1 else path.stem
        if layer in ("cli", "__main__", "__init__"):
            continue  # the top: it wires everything together
        assert layer in BELOW, f"{layer}: a new layer? say where it sits, here and in the docs"
        for other in _layers_imported(module, graph) - BELOW[layer] - {layer}:
            wrong.append(f"{path.relative_to(ROOT)} imports smalltown.{other}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_module_imports_itself_back_through_others():
    graph = _module_graph()
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(_describe(c, graph) for c in cycles)


def test_the_cycle_finder_reports_every_cycle_and_only_cycles():
    graph: Graph = {
        "a": {"b": 1},
        "b": {"c": 1, "d": 1},
        "c": {"a": 1},  # a → b → c → a
        "d": {"e": 1},
        "e": {},
        "f": {"g": 1},
        "g": {"f": 1, "e": 1},  # f → g → f
        "h": {"h": 1},  # imports itself
    }
    assert sorted(_cycles(graph)) == [["a", "b", "c", "a"], ["f", "g", "f"], ["h", "h"]]
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {}}) == []
