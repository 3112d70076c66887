"""Successive halving (--search hyperband) and Optuna's multi-objective search."""

from __future__ import annotations

import pytest

from dnn_lab.config.loading import validate_config
from dnn_lab.direction import Direction
from dnn_lab.errors import ConfigError
from dnn_lab.store.status import Status
from dnn_lab.sweeps.hyperband import HalvingSearch, halving_rungs, settings_per_rung
from dnn_lab.sweeps.plan import halving_trials
from dnn_lab.sweeps.runner import next_trial
from dnn_lab.sweeps.state import SweepState
from tests.conftest import TINY, merge, write_yaml
from tests.sweeps.conftest import QUICK, cli, only_sweep


def state_of(tmp_path, units, repeats=1, eta=3, epochs=9):
    sweep = validate_config(
        merge(
            TINY,
            {
                "sweep": {
                    "search": "hyperband",
                    "grid": {"model.units": units},
                    "repeats": repeats,
                    "eta": eta,
                }
            },
        )
    ).sweep
    return SweepState(
        folder=tmp_path,
        name="s",
        search="hyperband",
        grid=sweep.grid,
        space={},
        repeats=repeats,
        planned=0,
        seed=7,
        monitor="val_accuracy",
        direction=Direction.MAX,
        eta=eta,
        trials=halving_trials(sweep, 7, epochs),
    )


def run_rungs(search, state, score):
    """Play the runner: start every trial the search gives, score it, until it wants no more."""
    started = []
    while (trial := next_trial(state, search)) is not None:
        trial.status, trial.value, trial.epochs = Status.COMPLETED, score(trial), trial.budget
        started.append(trial)
    return started


def test_rungs_and_how_many_settings_train_at_each():
    assert halving_rungs(9, 1, 3) == [1, 3, 9]
    assert halving_rungs(10, 1, 3) == [1, 3, 10]
    assert halving_rungs(27, 3, 3) == [3, 9, 27]
    assert halving_rungs(8, 1, 2) == [1, 2, 4, 8]
    assert halving_rungs(2, 3, 3) == [2]
    assert settings_per_rung(9, 3, 3) == [9, 3, 1]
    assert settings_per_rung(4, 3, 3) == [4, 1, 1]


def test_the_best_third_go_on_at_each_rung(tmp_path):
    state = state_of(tmp_path, [5, 2, 8, 1, 9, 3, 7, 4, 6])
    search = HalvingSearch(state, 9)
    # accuracy grows with the width and with the epochs
    run_rungs(search, state, lambda t: t.overrides["model.units"] / 10 + t.budget / 100)
    by_budget = {}
    for trial in state.trials:
        by_budget.setdefault(trial.budget, []).append(
            (trial.overrides["model.units"], trial.status)
        )
    assert len(by_budget[1]) == 9
    assert sorted(u for u, s in by_budget[1] if s == "promoted") == [7, 8, 9]
    assert all(s == "pruned" for u, s in by_budget[1] if u < 7)
    assert by_budget[3] == [(8, "pruned"), (9, "promoted"), (7, "pruned")] or sorted(
        by_budget[3]
    ) == [
        (7, "pruned"),
        (8, "pruned"),
        (9, "promoted"),
    ]
    assert by_budget[9] == [(9, "completed")]
    assert sum(t.epochs for t in state.trials) == 9 * 1 + 3 * 3 + 1 * 9  # the grid: 81
    assert all(t.set_args()[-2] == f"train.epochs={t.budget}" for t in state.trials)


def test_with_repeats_a_setting_is_judged_on_its_mean(tmp_path):
    state = state_of(tmp_path, [1, 2, 3, 4], repeats=2, eta=2, epochs=2)
    search = HalvingSearch(state, 2)
    # width 1 has the best single seed, but width 2 the best mean
    scores = {(1, 7): 0.99, (1, 8): 0.0, (2, 7): 0.8, (2, 8): 0.8, (3, 7): 0.5, (3, 8): 0.5}
    run_rungs(search, state, lambda t: scores.get((t.overrides["model.units"], t.seed), 0.2))
    last = [t for t in state.trials if t.budget == 2]
    assert {t.overrides["model.units"] for t in last} == {2, 3}  # 4 settings // eta 2
    assert sorted(t.seed for t in last) == [7, 7, 8, 8]
    first = [t for t in state.trials if t.budget == 1 and t.overrides["model.units"] == 1]
    assert [t.status for t in first] == ["pruned", "pruned"] and "0.4950" in first[0].message


def test_a_resumed_search_runs_the_rung_it_was_in_and_decides_each_rung_once(tmp_path):
    state = state_of(tmp_path, [1, 2, 3], epochs=3)
    search = HalvingSearch(state, 3)
    for _ in range(3):
        trial = next_trial(state, search)
        trial.status, trial.value = Status.COMPLETED, trial.overrides["model.units"] / 10
    assert next_trial(state, search) is not None  # decides rung 1: width 3 goes on
    (second,) = [t for t in state.trials if t.budget == 3]
    second.status = Status.INTERRUPTED  # the driver was stopped
    state.save()
    again = SweepState.load(tmp_path)
    again.trials[-1].status = "pending"  # as the runner does for what did not finish
    resumed = HalvingSearch(again, 3)
    assert next_trial(again, resumed).index == second.index
    assert len(again.trials) == 4 and [t.status for t in again.trials[:3]] == [
        "pruned",
        "pruned",
        "promoted",
    ]


def test_a_setting_whose_seeds_all_failed_is_not_promoted(tmp_path):
    state = state_of(tmp_path, [1, 2], eta=2, epochs=2)
    search = HalvingSearch(state, 2)
    for _ in range(2):
        trial = next_trial(state, search)
        trial.status, trial.value = Status.FAILED, None
    assert next_trial(state, search) is None and len(state.trials) == 2


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ({"search": "hyperband"}, "needs sweep.grid or sweep.space"),
        ({"search": "hyperband", "space": {"x": {"uniform": [0, 1]}}}, "needs sweep.trials"),
        ({"search": "hyperband", "grid": {"x": [1, 2]}, "eta": 1}, "eta"),
        (
            {"search": "grid", "grid": {"x": [1]}, "objectives": ["val_accuracy", "params"]},
            "for search: optuna",
        ),
        (
            {
                "search": "optuna",
                "trials": 2,
                "grid": {"x": [1]},
                "objectives": ["params", "val_loss"],
            },
            "first objective",
        ),
        (
            {
                "search": "optuna",
                "trials": 2,
                "grid": {"x": [1]},
                "objectives": ["val_loss", "flops"],
            },
            "params or seconds_per_epoch",
        ),
        (
            {"search": "optuna", "trials": 2, "grid": {"x": [1]}, "objectives": ["val_loss"]},
            "two or more",
        ),
    ],
)
def test_bad_hyperband_and_objective_sections(sweep, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_config(merge(TINY, {"sweep": sweep}))


def test_a_hyperband_sweep_spends_fewer_epochs_and_records_each_trials(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", merge(QUICK, {"train": {"epochs": 3}}))
    result = cli(
        "sweep",
        config,
        "--search",
        "hyperband",
        "--grid",
        "model.units=2,16",
        "--runs-dir",
        tmp_path / "runs",
    )
    assert result.exit_code == 0, result.output
    folder = only_sweep(tmp_path / "runs")
    state = SweepState.load(folder)
    rows = [(t.budget, t.epochs, t.status) for t in state.trials]
    # 2 settings x 1 epoch, then the better one x 3 epochs
    assert sorted(rows) == [(1, 1, "promoted"), (1, 1, "pruned"), (3, 3, "completed")]
    assert state.planned == 3
    assert cli("report", folder).exit_code == 0
    markdown = (folder / "report.md").read_text()
    assert "3 trials (1 completed, 1 promoted, 1 pruned) trained 5 epochs in all." in markdown
    assert "Successive halving" in markdown


def test_optuna_multi_objective_search_records_its_objectives(tmp_path):
    pytest.importorskip("optuna")
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep",
        config,
        "--search",
        "optuna",
        "--trials",
        2,
        "--random",
        "model.units=int(2,32)",
        "--objectives",
        "val_accuracy,params",
        "--runs-dir",
        tmp_path / "runs",
    )
    assert result.exit_code == 0, result.output
    folder = only_sweep(tmp_path / "runs")
    state = SweepState.load(folder)
    assert state.objectives == ["val_accuracy", "params"]
    assert [t.status for t in state.trials] == ["completed"] * 2
    result = cli("compare", folder, "--pareto", "--format", "markdown")
    assert result.exit_code == 0 and "on the front of" in result.output


def test_objectives_must_start_with_the_metric_trials_are_scored_by(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep",
        config,
        "--search",
        "optuna",
        "--trials",
        2,
        "--random",
        "model.units=int(2,8)",
        "--objectives",
        "val_loss,params",
        "--runs-dir",
        tmp_path / "runs",
    )
    assert result.exit_code == 2
    assert (
        "the first objective is the metric the trials are scored by, val_accuracy" in result.output
    )
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_finished_rung_is_proposed_and_only_the_runner_records_it(tmp_path):
    import copy

    from dnn_lab.sweeps.runner import record_update

    state = state_of(tmp_path, [1, 2, 3], epochs=3)
    search = HalvingSearch(state, 3)
    assert not search.more(state), "a rung still to run: nothing to add"
    for trial in state.trials:
        trial.status, trial.value = Status.COMPLETED, trial.overrides["model.units"] / 10
    before = copy.deepcopy(state.trials)
    update = search.more(state)
    assert state.trials == before, "the search wrote nothing"
    assert not (tmp_path / "sweep.json").exists(), "nor saved the sweep"
    assert [(v.index, v.status) for v in update.verdicts] == [
        (0, Status.PRUNED),
        (1, Status.PRUNED),
        (2, Status.PROMOTED),
    ]
    (proposed,) = update.trials
    assert (proposed.index, proposed.overrides, proposed.budget) == (3, {"model.units": 3}, 3)
    record_update(state, update)
    assert [t.status for t in state.trials] == ["pruned", "pruned", "promoted", "pending"]
    assert state.trials[2].message == "promoted to 3 epochs"
