"""Arrows point down only: each layer imports only the layers below it (docs/architecture.md)."""

import ast
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
    "server": {"runtime", "store", "migrate"},  # migrate: file storage, served by id
    # keeps worlds running (runner, history, replay, LLM usage); registers no functions
    "worlds": {"runtime", "store", "engine", "agents", "llm"},
    "town": {"runtime", "store", "engine", "agents", "llm", "worlds"},
    "config": {"llm"},
    "bench": {"store", "runtime", "engine", "llm", "migrate", "town", "worlds"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name.split(".")[1] for name in found if name.startswith("smalltown.")}


def test_every_layer_imports_only_the_layers_below_it():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        layer = parts[0] if len(parts) > 1 else path.stem
        if layer in ("cli", "__main__", "__init__"):
            continue  # the top: it wires everything together
        assert layer in BELOW, f"{layer}: a new layer? say where it sits, here and in the docs"
        for other in _imports(path) - BELOW[layer] - {layer}:
            wrong.append(f"{path.relative_to(ROOT)} imports smalltown.{other}")
    assert not wrong, "\n".join(wrong)
