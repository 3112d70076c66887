"""Two trials of one setting never share a seed, so every counted seed is a real one.

A setting drawn twice by a random or Optuna search trains the next seeds it has not
trained; a grid value listed twice, or a ``name`` axis (which trains nothing new), is
refused before anything runs; a sweep in which no trial completed exits 1.
"""

from __future__ import annotations

import json

import pytest

from dnn_lab.config.schema import SweepConfig
from dnn_lab.direction import Direction
from dnn_lab.store import runs
from dnn_lab.store.status import Status
from dnn_lab.sweeps.runner import record_update
from dnn_lab.sweeps.state import SweepState
from tests.conftest import merge, write_yaml
from tests.sweeps.conftest import QUICK, cli, only_sweep


def seeds_by_setting(trials) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for trial in trials:
        found.setdefault(trial.setting(), []).append(trial.seed)
    return found


def test_a_random_search_drawing_a_setting_again_gives_it_new_seeds_and_says_so(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep", config, "--random", "model.units=int(4,5)", "--trials", 6, "--repeats", 2,
        "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    planned = [(row[1], int(row[2])) for row in lines if len(row) == 3 and row[0].isdigit()]
    assert len(planned) == 12
    assert len(set(planned)) == 12, f"a setting trains a seed twice: {planned}"
    assert "was drawn" in result.output and "no seed counts twice" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("axis", "message"),
    [
        ("model.units=4,4", "sweep axis model.units: the value 4 is listed twice"),
        ("train.optimizer=adam,sgd,adam", "sweep axis train.optimizer: the value adam is listed"),
        ("train.optimizer=adam,{name: adam}", "train the same config"),
        ("name=a,b", "sweep axis name: a run's name does not change what trains"),
    ],
)
def test_a_grid_axis_that_would_train_one_setting_twice_is_exit_2(tmp_path, axis, message):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    for extra in ([], ["--dry-run"]):
        result = cli("sweep", config, "--grid", axis, "--runs-dir", tmp_path / "runs", *extra)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_a_repeated_value_in_the_configs_sweep_section_is_exit_2(tmp_path):
    config = write_yaml(
        tmp_path / "quick.yaml", merge(QUICK, {"sweep": {"grid": {"model.units": [8, 16, 8]}}})
    )
    result = cli("sweep", config, "--dry-run")
    assert result.exit_code == 2
    assert "sweep axis model.units: the value 8 is listed twice" in result.output


def test_optuna_proposing_a_setting_again_gives_it_new_seeds(tmp_path):
    pytest.importorskip("optuna")
    from dnn_lab.sweeps.optuna_search import OptunaSearch

    plan = SweepConfig.model_validate(
        {"search": "optuna", "trials": 3, "repeats": 2, "space": {"model.units": {"choice": [4]}}}
    )
    state = SweepState(
        folder=tmp_path, name="s", search="optuna", grid={}, space=plan.space, repeats=2,
        planned=6, seed=5, monitor="val_accuracy", direction=Direction.MAX,
    )  # fmt: skip
    search = OptunaSearch(state, plan)
    while update := search.more(state):
        record_update(state, update)
        for trial in update.trials:
            state.trials[trial.index].status = Status.RUNNING
    assert seeds_by_setting(state.trials) == {"model.units=4": [5, 6, 7, 8, 9, 10]}


def test_a_real_random_sweep_counts_each_seed_once(tmp_path):
    """The issue's case: int(4,5) drawn three times; compare must count three seeds."""
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep", config, "--random", "model.units=int(4,5)", "--trials", 3,
        "--workers", 1, "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    folder = only_sweep(tmp_path / "runs")
    trials = SweepState.load(folder).trials
    pairs = [(t.setting(), t.seed) for t in trials]
    assert len(set(pairs)) == len(pairs) == 3
    payload = json.loads(cli("compare", folder, "--format", "json").output)
    for setting in payload["settings"]:
        seeds = {
            runs.read_run(folder / name).config["seed"] for name in setting["runs"]
        }  # the seeds its runs really trained
        assert setting["n"] == len(seeds)
    assert sum(s["n"] for s in payload["settings"]) == 3


def test_a_sweep_in_which_no_trial_completed_exits_1_and_names_no_best(tmp_path):
    """One trial fails (no run to start from), the other diverges (a huge learning rate)
    after an epoch that scored 0.1: that score is not a result."""
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep", config, "--grid", f"model.init_from={tmp_path / 'no-such-run'},null",
        "--set", "train.optimizer={name: sgd, learning_rate: 1e15}",
        "--workers", 1, "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "no trial completed" in result.output
    assert "best val_accuracy 0.1" not in result.output
    folder = only_sweep(tmp_path / "runs")
    state = SweepState.load(folder)
    assert sorted(t.status for t in state.trials) == ["diverged", "failed"]
    assert state.status == "failed" and state.best() is None
    compared = cli("compare", folder)
    assert compared.exit_code == 0, compared.output
    assert "no setting has a completed run (1 diverged)" in compared.output
    assert "only one setting" not in compared.output
