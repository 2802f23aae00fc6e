"""The three floors of the house (see docs/architecture.md) and the absence of import cycles, for every module.

The scan reads the source with ``ast``, so it sees imports at any depth: module level, inside functions, under
``if TYPE_CHECKING:`` and in ``try`` blocks. Importing a module is not needed (nothing heavy loads).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mtmct", "cameras", "fusion", "storage")
MIDDLE = ("cameras", "fusion", "storage")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def floor(module: str) -> str:
    """``core``, ``cameras``/``fusion``/``storage`` (middle) or ``app`` (the rest of ``mtmct``, its __init__ too)."""
    top = module.split(".")[0]
    if module == "mtmct.core" or module.startswith("mtmct.core."):
        return "core"
    return top if top in MIDDLE else "app"


def imports_of(source: str, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Every project module ``module`` imports, anywhere in its source, relative imports resolved.

    ``from pkg import mod`` counts as importing the submodule ``pkg.mod`` (of ``known``), not ``pkg`` itself, as
    ``import pkg.mod`` does: a parent package runs first either way, and that is not a dependency on it."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" if target else alias.name for alias in node.names]
            submodules = [name for name in names if name in known]
            found.update(submodules)
            if len(submodules) < len(names):
                found.add(target)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def allowed(importer: str, imported: str) -> bool:
    """May ``importer`` import ``imported``? Core: only core; a middle package: itself and core; the app: all."""
    src, dst = floor(importer), floor(imported)
    if src == "app":
        return True
    if src == "core":
        return dst == "core"
    return dst in ("core", src)


def project_modules() -> dict[str, tuple[str, bool]]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            modules[module_name(path)] = (path.read_text(), path.name == "__init__.py")
    return modules


def violations(modules: dict[str, tuple[str, bool]]) -> list[str]:
    known = set(modules)
    bad = []
    for name, (source, is_package) in sorted(modules.items()):
        for target in sorted(imports_of(source, name, is_package, known)):
            if target in known and not allowed(name, target):
                bad.append(f"{name} ({floor(name)}) imports {target} ({floor(target)})")
    return bad


def import_graph(modules: dict[str, tuple[str, bool]]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, (source, is_package) in modules.items():
        graph.add_node(name)
        graph.add_edges_from((name, t) for t in imports_of(source, name, is_package, set(modules))
                               if t in modules and t != name)
    return graph


def test_every_import_points_down_or_sideways_within_a_package():
    assert violations(project_modules()) == []


def test_no_import_cycles():
    """A cycle (two modules importing each other, even lazily) means a shared piece belongs a floor lower."""
    graph = import_graph(project_modules())
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


@pytest.mark.parametrize("importer, line, ok", [
    ("mtmct.core.tracklet", "from cameras.source import Source", False),           # core reaching up
    ("mtmct.core.errors", "def f():\n    from mtmct.pipeline import run", False),  # lazily, to the app
    ("mtmct.core.frame", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import storage", False),
    ("cameras.detector", "from fusion.topology import Topology", False),             # middle sideways
    ("storage.repository", "def f():\n    import mtmct.query", False),               # middle reaching up
    ("mtmct.core.frame", "from .. import pipeline", False),                         # relative, still up
    ("cameras.tracker", "from cameras.kalman_filter import KalmanFilter", True),
    ("fusion.fusion", "from mtmct.core.tracklet import Tracklet", True),
    ("mtmct.pipeline", "from storage import Repository\nfrom cameras import camera_actor", True),
])
def test_the_scan_catches_a_deliberately_bad_import(importer, line, ok):
    """The checker itself: a module made up here, with one import, on top of the real project's modules."""
    modules = project_modules()
    modules[importer] = (line, False)
    bad = [v for v in violations(modules) if v.startswith(f"{importer} ")]
    assert (bad == []) is ok, bad


def test_a_cycle_is_caught():
    modules = {"cameras.a": ("from cameras import b", False), "cameras.b": ("def f():\n    import cameras.a", False)}
    assert [sorted(c) for c in nx.strongly_connected_components(import_graph(modules)) if len(c) > 1] == [
        ["cameras.a", "cameras.b"]]
