"""The package structure holds: no import cycle between top-level packages, and nothing outside ``api/`` imports
from ``api/``.

The import graph is read from the source (``ast`` over every ``.py`` file of the top-level packages; tests and
benchmarks are not part of it), counting every import wherever it is written: at module level, inside a
function, under ``TYPE_CHECKING``. A deferred import still ties the two packages together; it only hides the
cycle from the interpreter. The layering this protects is in ``docs/architecture.md`` (domain → persistence →
config_schema → providers / retrieval / reports → engine → nodes → graphs → api / cli). ``cli/main.py`` starts
the server through the import string ``"api.app:create_app"``, which is not an import.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_PACKAGES = {"tests", "benchmarks", "docs", "ui", "node_modules"}
# the intended layering, left to right (docs/architecture.md): a cycle is reported by its imports that point
# right-to-left or sideways, the ones to remove
LAYER = {"domain": 0, "persistence": 1, "config_schema": 2, "providers": 3, "retrieval": 3, "reports": 3,
         "engine": 4, "nodes": 5, "graphs": 6, "api": 7, "cli": 7}

Edges = dict[tuple[str, str], list[str]]


def packages() -> set[str]:
    return {
        p.name for p in ROOT.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in NOT_PACKAGES and (p / "__init__.py").exists()
    }


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def import_edges() -> Edges:
    """``(importer package, imported package)`` → the ``file:line module`` sites, across packages only."""
    tops = packages()
    edges: Edges = defaultdict(list)
    for top in sorted(tops):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            rel = path.relative_to(ROOT)
            for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8"), str(rel))):
                target = module.split(".")[0]
                if target in tops and target != top:
                    edges[(top, target)].append(f"{rel}:{line} imports {module}")
    return edges


def cycles(edges: Edges) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph[b]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_is_read_from_every_package() -> None:
    edges = import_edges()
    assert {"api", "cli", "domain", "engine", "nodes", "persistence"} <= packages()
    assert ("engine", "persistence") in edges and ("api", "engine") in edges  # the reader sees real imports


def test_no_import_cycle_between_top_level_packages() -> None:
    edges = import_edges()
    problems = []
    for component in cycles(edges):
        sites = [site for (a, b), where in sorted(edges.items())
                 if a in component and b in component and LAYER.get(a, 99) <= LAYER.get(b, 99) for site in where]
        problems.append(f"cycle between {', '.join(component)}:\n  " + "\n  ".join(sites))
    assert not problems, "\n".join(problems)


def test_nothing_outside_api_imports_api() -> None:
    edges = import_edges()
    sites = [site for (a, b), where in sorted(edges.items()) if b == "api" and a != "api" for site in where]
    assert not sites, "imports of api/ from outside it:\n  " + "\n  ".join(sites)
