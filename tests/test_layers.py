"""The import graph stays one-way: lower layers never import higher ones, and nothing circles.

Every ``import`` / ``from ... import`` of a ``fama`` module counts, wherever it stands
(module level, inside a function, under ``TYPE_CHECKING``). The layers are listed in
``docs/architecture.md``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fama"

# Lowest first. A module may import its own package and anything in a lower or equal layer;
# packages of one layer must not import each other in a circle.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("fama.core", "fama.prompts"),
    ("fama.llm",),
    ("fama.envs",),
    ("fama.helpers", "fama.analysis"),
    ("fama.nodes",),
    ("fama.graph",),
    ("fama.runs", "fama.benchmarks", "fama.serving", "fama.integrations"),
    ("fama.view",),
    ("fama.commands", "fama.cli", "fama"),
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """``(imported module, at module level)`` for every import of a fama module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [target]
            if target == "fama" or target.endswith(".__init__"):
                names = [f"{target}.{alias.name}" for alias in node.names]
            found += [(name, id(node) in top) for name in names if name.startswith("fama")]
        elif isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names if a.name.startswith("fama")]
    return found


def _layer(module: str) -> tuple[int, str]:
    """The layer index and the layer entry (package) a module belongs to."""
    best: tuple[int, str] | None = None
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and (
                best is None or len(entry) > len(best[1])
            ):
                best = (index, entry)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and the docs")
    return best


def import_graph() -> dict[str, list[tuple[str, bool]]]:
    """Every fama module with the fama modules it imports."""
    return {
        _module_name(path): _imports(path, _module_name(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def upward_imports(graph: dict[str, list[tuple[str, bool]]]) -> list[str]:
    """``a -> b`` for every import of a higher layer."""
    bad = []
    for module, imported in graph.items():
        own, _ = _layer(module)
        for target, _top in imported:
            if _layer(target)[0] > own:
                bad.append(f"{module} -> {target}")
    return sorted(set(bad))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def package_cycles(graph: dict[str, list[tuple[str, bool]]]) -> list[list[str]]:
    """Circles between layer entries (packages), counting every import."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imported in graph.items():
        source = _layer(module)[1]
        for target, _top in imported:
            entry = _layer(target)[1]
            if entry != source:
                edges[source].add(entry)
    return _cycles(edges)


def module_cycles(graph: dict[str, list[tuple[str, bool]]]) -> list[list[str]]:
    """Circles between modules through module-level imports."""
    edges = {m: {t for t, top in imported if top and t in graph} for m, imported in graph.items()}
    return _cycles(edges)


def test_no_upward_imports() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_circles() -> None:
    graph = import_graph()
    assert package_cycles(graph) == []
    assert module_cycles(graph) == []


@pytest.mark.parametrize(
    ("source", "target"),
    [("fama.core.state", "fama.graph.episode"), ("fama.llm.call", "fama.nodes.fc_agent")],
)
def test_an_upward_import_is_caught(source: str, target: str) -> None:
    graph = import_graph()
    graph[source] = [*graph[source], (target, False)]
    assert upward_imports(graph) == [f"{source} -> {target}"]


def test_a_circle_is_caught() -> None:
    graph = import_graph()
    graph["fama.helpers.base"] = [*graph["fama.helpers.base"], ("fama.analysis.schemas", True)]
    graph["fama.analysis.schemas"] = [*graph["fama.analysis.schemas"], ("fama.helpers.base", True)]
    assert ["fama.analysis", "fama.helpers"] in package_cycles(graph)
    assert ["fama.analysis.schemas", "fama.helpers.base"] in module_cycles(graph)
