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


# What each package may import, besides itself and the shared leaves. Data flows one way:
# config -> data -> training -> store -> analysis -> views; render draws for all of them,
# exporters read the store, the CLI calls any of them. README's Layout says the same.
LEAVES = {"dnn_lab.errors", "dnn_lab.direction", "dnn_lab.lifetime"}
MAY_IMPORT = {
    "dnn_lab.__main__": {"dnn_lab.cli"},
    "dnn_lab.config": set(),
    "dnn_lab.data": {"dnn_lab.config"},
    "dnn_lab.store": set(),
    "dnn_lab.render": {"dnn_lab.store", "dnn_lab.config"},
    "dnn_lab.analysis": {"dnn_lab.store", "dnn_lab.render"},
    "dnn_lab.views": {"dnn_lab.store", "dnn_lab.render", "dnn_lab.analysis"},
    "dnn_lab.exporters": {"dnn_lab.store"},
    "dnn_lab.training": {"dnn_lab.config", "dnn_lab.data", "dnn_lab.store", "dnn_lab.render"},
    "dnn_lab.sweeps": {"dnn_lab.config", "dnn_lab.data", "dnn_lab.store", "dnn_lab.render"},
    "dnn_lab.ci": {
        "dnn_lab.config",
        "dnn_lab.store",
        "dnn_lab.render",
        "dnn_lab.analysis",
        "dnn_lab.views",
        "dnn_lab.training",
        "dnn_lab.sweeps",
    },
    # the library face (dnn_lab.train, Run, Comparison, Study): everything below the CLI
    "dnn_lab.api": {
        "dnn_lab.config",
        "dnn_lab.data",
        "dnn_lab.store",
        "dnn_lab.render",
        "dnn_lab.analysis",
        "dnn_lab.views",
        "dnn_lab.exporters",
        "dnn_lab.training",
        "dnn_lab.sweeps",
    },
    "dnn_lab.cli": {
        "dnn_lab",
        "dnn_lab.api",
        "dnn_lab.ci",
        "dnn_lab.config",
        "dnn_lab.data",
        "dnn_lab.store",
        "dnn_lab.render",
        "dnn_lab.analysis",
        "dnn_lab.views",
        "dnn_lab.exporters",
        "dnn_lab.training",
        "dnn_lab.sweeps",
    },
}
# A Ray task is a function the driver hands to Ray; its body, run on a cluster node,
# trains the trial as a warm worker does (the import is inside that function).
CROSSINGS = {
    ("dnn_lab.sweeps.ray_executor", "dnn_lab.training.worker"),
}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def forbidden_imports(edges: dict[str, set[str]]) -> list[str]:
    """Every edge that leaves its package for one the table does not allow."""
    found = []
    for name, targets in sorted(edges.items()):
        package = package_of(name)
        if package in LEAVES or name == "dnn_lab":
            continue
        allowed = MAY_IMPORT[package] | LEAVES | {package}
        for target in sorted(targets):
            if (name, target) not in CROSSINGS and package_of(target) not in allowed:
                found.append(f"{name} imports {target}")
    return found


def test_every_package_has_a_rule():
    packages = {package_of(m) for m in MODULES} - LEAVES - {"dnn_lab"}
    assert packages <= set(MAY_IMPORT), sorted(packages - set(MAY_IMPORT))


def test_packages_follow_the_flow():
    assert forbidden_imports(internal_edges()) == []


@pytest.mark.parametrize(
    ("importer", "target"),
    [
        ("dnn_lab.store.runs", "dnn_lab.render.formatting"),  # the format knows no display
        ("dnn_lab.analysis.study", "dnn_lab.views.compare"),  # analysis below the views
        ("dnn_lab.config.schema", "dnn_lab.data.loaders"),  # config below data
        ("dnn_lab.render.tables", "dnn_lab.analysis.study"),  # drawing knows no statistics
        ("dnn_lab.training.trainer", "dnn_lab.sweeps.runner"),  # a run knows no sweep
        ("dnn_lab.exporters.to_mlflow", "dnn_lab.views.compare"),
    ],
)
def test_an_import_up_a_layer_fails_the_check(importer, target):
    edges = internal_edges()
    edges[importer] = edges[importer] | {target}
    assert forbidden_imports(edges) == [f"{importer} imports {target}"]


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_the_shared_leaves_import_no_dnn_lab_module(name):
    assert internal_edges()[name] == set()


def test_both_ends_of_a_trial_share_one_protocol_and_neither_imports_the_other():
    edges = internal_edges()
    protocol = "dnn_lab.store.trial_messages"
    assert (
        protocol in edges["dnn_lab.sweeps.workers"]
        and protocol in edges["dnn_lab.sweeps.ray_executor"]
    )
    assert protocol in edges["dnn_lab.training.worker"]
    assert edges[protocol] <= {"dnn_lab.store.status"} | LEAVES
    assert not any(t.startswith("dnn_lab.sweeps") for t in edges["dnn_lab.training.worker"])


def test_the_dataset_table_and_the_records_are_leaves():
    edges = internal_edges()
    assert edges["dnn_lab.config.datasets"] <= LEAVES
    assert edges["dnn_lab.store.records"] <= LEAVES


def imports_at_top(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", sorted(MODULES))
def test_matplotlib_is_imported_only_inside_the_functions_that_draw(name):
    top = imports_at_top(MODULES[name])
    assert not any(m.split(".")[0] == "matplotlib" for m in top), f"{name} imports matplotlib"
