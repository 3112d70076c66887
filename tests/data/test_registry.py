"""The dataset registry: a leaf every part may read, paired with one loader per dataset."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dnn_lab.data.loaders import LOADERS
from dnn_lab.data.registry import DATASETS, DatasetInfo, dataset_info, known_task
from dnn_lab.errors import DataError

PACKAGE = Path(__file__).parents[2] / "dnn_lab"


def module_imports() -> dict[str, set[str]]:
    """Every dnn_lab module and the dnn_lab modules it imports, at any depth of its code."""
    modules = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path
        for path in PACKAGE.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from dnn_lab.config import catalog` imports the module catalog
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else node.module for t in targets]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def find_cycle(graph: dict[str, set[str]], among: set[str]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node] & among):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(among):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_registry_is_a_leaf():
    assert module_imports()["dnn_lab.data.registry"] <= {"dnn_lab.errors"}


def test_config_and_data_import_each_other_in_no_circle():
    graph = module_imports()
    mine = {m for m in graph if m.startswith(("dnn_lab.config", "dnn_lab.data"))}
    # function-level imports count: a circle is a circle wherever the import sits
    assert find_cycle(graph, mine | {"dnn_lab.errors"}) is None


def test_every_dataset_has_a_loader_and_its_own_name():
    assert set(LOADERS) == set(DATASETS)
    assert all(name == info.name for name, info in DATASETS.items())


def test_dataset_info_is_keyword_only():
    with pytest.raises(TypeError):
        DatasetInfo("x", "y", None, None, None, None, None, "standard")  # type: ignore[misc]


def test_unknown_dataset_is_a_data_error():
    assert dataset_info("iris").n_classes == 3
    with pytest.raises(DataError, match="unknown dataset .irs.; did you mean .iris.?"):
        dataset_info("irs")


def test_known_task_reads_the_registry_alone():
    assert known_task("breast_cancer") == ("binary", 2)
    assert known_task("iris", "multiclass") == ("multiclass", 3)
    assert known_task("diabetes", "auto") == ("regression", None)
    assert known_task("iris", "regression") is None  # a task the data must be read for
    assert known_task("csv") is None and known_task("npz") is None
    # the class count is the registry's own, so a binary entry must say 2
    assert all(info.n_classes == 2 for info in DATASETS.values() if info.task == "binary")
