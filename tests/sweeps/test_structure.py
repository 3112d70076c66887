"""The sweep package's shape: imports point one way, and the search interface holds."""

from __future__ import annotations

import ast
from pathlib import Path

import dnn_lab.sweeps
from dnn_lab.direction import Direction
from dnn_lab.store import runs
from dnn_lab.store.status import Status
from dnn_lab.sweeps.runner import next_trial
from dnn_lab.sweeps.search import FixedPlan
from dnn_lab.sweeps.state import SweepState, Trial

PACKAGE = Path(dnn_lab.sweeps.__file__).parent


def sweep_imports() -> dict[str, set[str]]:
    """Module -> the sweep modules it imports, at the top or inside functions."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found |= {
                n.split(".")[2]
                for n in names
                if n.startswith("dnn_lab.sweeps.") and n.count(".") >= 2
            }
        graph[path.stem] = {m for m in found if (PACKAGE / f"{m}.py").exists()} - {path.stem}
    return graph


def test_no_import_cycle_between_sweep_modules():
    graph = sweep_imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for module in graph.get(start, ()):
            if module == goal or (module not in seen and reaches(module, goal, seen | {module})):
                return True
        return False

    cycles = [m for m in graph if reaches(m, m, set())]
    assert not cycles, f"import cycles through {cycles}: {graph}"
    # the records everything else shares are a leaf (they load through store's strict reader)
    assert graph["state"] == set()
    assert "runner" not in graph["optuna_search"]


def test_no_sweep_module_imports_keras_or_tensorflow_at_the_top():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                )
                assert not any(
                    (n or "").split(".")[0] in ("keras", "tensorflow", "dnn_lab.training")
                    or (n or "").startswith("dnn_lab.training")
                    for n in names
                ), f"{path.name} imports {names}"


def test_sweep_json_keeps_direction_as_a_plain_word(tmp_path):
    state = SweepState(
        folder=tmp_path,
        name="s",
        search="grid",
        grid={"model.units": [8, 16]},
        space={},
        repeats=1,
        planned=2,
        seed=1,
        monitor="val_loss",
        direction=Direction.MIN,
        trials=[Trial(index=0, overrides={"model.units": 8}, seed=1, value=0.5)],
    )
    state.save()
    assert '"direction": "min"' in (tmp_path / runs.SWEEP_FILE).read_text()
    again = SweepState.load(tmp_path)
    assert again.direction is Direction.MIN and again.trials == state.trials


def test_a_fixed_plan_hands_out_pending_trials_in_order(tmp_path):
    trials = [Trial(index=i, overrides={}, seed=i) for i in range(3)]
    state = SweepState(
        folder=tmp_path,
        name="s",
        search="grid",
        grid={},
        space={},
        repeats=3,
        planned=3,
        seed=0,
        trials=trials,
    )
    plan = FixedPlan()
    first = next_trial(state, plan)
    assert first is trials[0] and not plan.more(state)
    first.status = "running"
    assert next_trial(state, plan) is trials[1]
    # a free worker asks for its own setting first: the first pending trial it ranks lowest
    assert next_trial(state, plan, prefer=lambda t: 0 if t is trials[2] else 1) is trials[2]
    assert next_trial(state, plan, prefer=lambda t: 1) is trials[1], "equals keep their order"
    for trial in trials:
        trial.status = "completed"
    assert next_trial(state, plan) is None and not plan.more(state)
    assert not plan.report(trials[0], 0.5, 1)
    assert trials[2].status != Status.PENDING


def test_a_trials_value_without_metrics_is_its_historys_best_in_the_sweeps_direction(tmp_path):
    from dnn_lab.sweeps.state import trial_value

    run = runs.Run(path=tmp_path)
    run._history = [{"epoch": 1, "val_loss": 0.9}, {"epoch": 2, "val_loss": 0.4}, {"epoch": 3}]
    assert trial_value(run, "val_loss", Direction.MIN) == 0.4
    assert trial_value(run, "val_loss", Direction.MAX) == 0.9
    from dnn_lab.store.records import MetricsRecord

    run.scores = MetricsRecord.from_json({"best": {"val_loss": 0.3}})  # a finished run says it
    assert trial_value(run, "val_loss", Direction.MIN) == 0.3
