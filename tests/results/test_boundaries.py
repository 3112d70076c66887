"""results/ reads run directories without Keras: its imports, walked with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dnn_lab
import dnn_lab.results

MODULES = sorted(Path(dnn_lab.results.__file__).parent.glob("*.py"))
NEVER = ("tensorflow", "keras", "jax", "torch", "dnn_lab.training")
# shared by all, import no dnn_lab module
LEAVES = ("direction.py", "results/formatting.py", "results/records.py")


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level?) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_results_never_imports_keras_and_plots_only_inside_functions(path):
    for module, top_level in imports(path):
        assert not module.startswith(NEVER), f"{path.name} imports {module}"
        if module.startswith("matplotlib"):
            assert not top_level, f"{path.name} imports matplotlib at start-up"


@pytest.mark.parametrize("name", LEAVES)
def test_the_shared_modules_are_leaves(name):
    path = Path(dnn_lab.__file__).parent / name
    assert [m for m, _ in imports(path) if m.startswith("dnn_lab")] == []
