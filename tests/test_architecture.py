"""The package's shape as a test: imports point one way, Keras stays in training/, modules
stay short enough to read. Imports inside functions count as much as those at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dnn_lab"
FRAMEWORKS = ("keras", "tensorflow", "jax", "jaxlib", "torch")
MAX_LINES = 480  # "about 450": a module longer than this wants splitting


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def internal_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = {t for t in imports_of(path) if t in MODULES and t != name}
        # ``from dnn_lab.results import rundir`` is an edge to rundir, not to the package
        edges[name] = {t for t in targets if not (MODULES[t].name == "__init__.py" and t != name)}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_anywhere_in_the_package():
    assert cycles(internal_edges()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_training_package_imports_a_framework(name):
    if name.startswith("dnn_lab.training"):
        return
    frameworks = {t for t in imports_of(MODULES[name]) if t.split(".")[0] in FRAMEWORKS}
    assert not frameworks, f"{name} imports {sorted(frameworks)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_short(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_packages_follow_the_flow():
    """config and data know nothing of training, results or sweeps; results nothing of sweeps
    or training; sweeps start training only as processes (by module name, not by import)."""
    allowed = {
        "dnn_lab.config": {"dnn_lab.config", "dnn_lab.data"},
        "dnn_lab.data": {"dnn_lab.data", "dnn_lab.config"},
        "dnn_lab.results": {"dnn_lab.results", "dnn_lab.config", "dnn_lab"},
        "dnn_lab.sweep": {"dnn_lab.sweep", "dnn_lab.results", "dnn_lab.config", "dnn_lab.data"},
    }
    leaves = {"dnn_lab.errors", "dnn_lab.direction", "dnn_lab.lifetime"}  # shared by all
    # A Ray task is a function the driver hands to Ray; its body, run on a cluster node,
    # trains the trial as a warm worker does (the import is inside that function).
    crossings = {("dnn_lab.sweep.ray_executor", "dnn_lab.training.worker")}
    for name, targets in internal_edges().items():
        package = ".".join(name.split(".")[:2])
        if package not in allowed:
            continue
        for target in targets - leaves:
            if (name, target) in crossings:
                continue
            assert any(target == a or target.startswith(a + ".") for a in allowed[package]), (
                f"{name} imports {target}"
            )
