"""Sweep plans: axes, grid and random trials, the seed axis, checks before anything runs."""

from __future__ import annotations

import pytest

from dnn_lab.config.loading import validate_config
from dnn_lab.config.schema import SweepConfig
from dnn_lab.direction import Direction
from dnn_lab.errors import ConfigError
from dnn_lab.sweeps.plan import (
    grid_trials,
    merged_sweep,
    parse_distribution,
    parse_grid_axis,
    random_trials,
    split_values,
)
from dnn_lab.sweeps.runner import next_trial, record_update
from dnn_lab.sweeps.state import SweepState
from tests.conftest import TINY, merge, write_yaml
from tests.sweeps.conftest import QUICK, cli


def sweep_of(**kwargs) -> SweepConfig:
    return SweepConfig.model_validate(kwargs)


def test_comma_lists_are_axes_and_bracketed_lists_stay_whole():
    assert split_values("sgd,adam,rmsprop") == ["sgd", "adam", "rmsprop"]
    assert parse_grid_axis("model.units=[128,64]") == ("model.units", [[128, 64]])
    assert parse_grid_axis("model.units=[128,64],[64,32],100") == (
        "model.units",
        [[128, 64], [64, 32], 100],
    )
    assert parse_grid_axis("train.optimizer={name: sgd, momentum: 0.9},adam")[1] == [
        {"name": "sgd", "momentum": 0.9},
        "adam",
    ]
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_grid_axis("train.optimizer")


def test_grid_is_the_product_of_axes_times_repeats():
    trials = grid_trials(
        sweep_of(
            grid={
                "train.optimizer": ["sgd", "adam", "rmsprop"],
                "model.activation": ["relu", "sigmoid"],
            },
            repeats=3,
        ),
        42,
    )
    assert len(trials) == 3 * 2 * 3
    assert [t.seed for t in trials[:3]] == [42, 43, 44]
    assert trials[0].overrides == {"train.optimizer": "sgd", "model.activation": "relu"}
    assert len({t.setting() for t in trials}) == 6
    assert trials[0].set_args() == ["train.optimizer=sgd", "model.activation=relu", "seed=42"]


def test_a_seed_axis_sets_the_trials_seeds(tmp_path):
    from dnn_lab.config.loading import apply_overrides

    trials = grid_trials(sweep_of(grid={"seed": [5, 6], "model.units": [8, 16]}), 1)
    assert [(t.overrides, t.seed) for t in trials] == [
        ({"model.units": 8}, 5),
        ({"model.units": 8}, 6),
        ({"model.units": 16}, 5),
        ({"model.units": 16}, 6),
    ]
    config = validate_config(apply_overrides(merge(TINY, {}), trials[1].set_args()))
    assert config.seed == 6  # what the trial's process trains with
    repeated = grid_trials(sweep_of(grid={"seed": [5, 10]}, repeats=2), 1)
    assert [t.seed for t in repeated] == [5, 6, 10, 11]  # repeats add to the axis value
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli("sweep", config, "--grid", "seed=5,6", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "2 runs: 1 settings x 2 seeds" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--grid", "seed=a,b"], "seeds are whole numbers; received 'a'"),
        (
            ["--grid", "seed=5,6", "--repeats", "2"],
            "seed 6 would run twice (from 5 and 6 with 2 repeats); "
            "space the seeds at least 2 apart",
        ),
        (
            ["--grid", "seed=5,6", "--search", "random", "--trials", "2"],
            "a random search draws settings, not seeds; repeat each setting over seeds with "
            "--repeats N",
        ),
    ],
)
def test_a_seed_axis_that_cannot_work_is_one_clear_error(tmp_path, args, expected):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli("sweep", config, *args, "--dry-run", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2 and expected in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "runs").exists()


def test_a_grid_of_more_than_10000_settings_is_refused_before_planning(tmp_path, monkeypatch):
    from dnn_lab.sweeps import plan

    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    units = ",".join(str(n) for n in range(1, 102))
    sizes = ",".join(str(n) for n in range(1, 101))
    monkeypatch.setattr(plan, "grid_trials", lambda *a: pytest.fail("planned anyway"))
    for extra in (["--dry-run"], []):
        result = cli(
            "sweep",
            config,
            "--grid",
            f"model.units={units}",
            "--grid",
            f"train.batch_size={sizes}",
            *extra,
            "--runs-dir",
            tmp_path / "runs",
        )
        assert result.exit_code == 2, result.output
        assert "the grid has 10,100 settings (101 x 100 values), more than 10,000" in result.output
        assert "--search random" in result.output and not (tmp_path / "runs").exists()


def test_list_values_survive_the_round_trip_through_set():
    from dnn_lab.config.loading import apply_overrides

    (trial,) = grid_trials(sweep_of(grid={"model.units": [[64, 32]]}), 1)
    config = validate_config(apply_overrides(merge(TINY, {}), trial.set_args()))
    assert config.model.units == [64, 32] and config.model.hidden_layers == 2


def test_random_search_with_a_fixed_seed_draws_the_same_trials_twice():
    plan = sweep_of(
        search="random",
        trials=5,
        repeats=2,
        space={
            "train.optimizer.learning_rate": {"loguniform": [1e-4, 1e-1]},
            "model.units": {"int": [8, 64]},
            "model.activation": {"choice": ["relu", "tanh"]},
            "model.dropout": {"uniform": [0.0, 0.5]},
        },
    )
    first, second = random_trials(plan, 7), random_trials(plan, 7)
    assert [t.overrides for t in first] == [t.overrides for t in second]
    assert len(first) == 10 and first[0].overrides == first[1].overrides
    for trial in first:
        assert 1e-4 <= trial.overrides["train.optimizer.learning_rate"] <= 1e-1
        assert 8 <= trial.overrides["model.units"] <= 64
    assert [t.overrides for t in random_trials(plan, 8)] != [t.overrides for t in first]


def test_parse_distribution():
    assert parse_distribution("model.units=int(16,256)") == ("model.units", {"int": [16, 256]})
    assert parse_distribution("lr=loguniform(1e-4, 1e-1)") == ("lr", {"loguniform": [1e-4, 0.1]})
    with pytest.raises(ConfigError, match="KEY=KIND"):
        parse_distribution("model.units=16..256")


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ({"space": {"x": {"int": [5, 1]}}, "search": "random", "trials": 2}, "low < high"),
        ({"space": {"x": {"loguniform": [0, 1]}}, "search": "random", "trials": 2}, "low > 0"),
        ({"space": {"x": {"uniform": [0, 1]}}, "search": "random"}, "needs sweep.trials"),
        ({"grid": {"x": []}}, "has no values"),
        ({"search": "grid", "space": {"x": {"uniform": [0, 1]}}}, "sweep.space is for search"),
    ],
)
def test_bad_sweep_sections(sweep, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_config(merge(TINY, {"sweep": sweep}))


def test_optuna_with_a_fixed_seed_proposes_the_same_settings_twice(tmp_path):
    pytest.importorskip("optuna")
    from dnn_lab.sweeps.optuna_search import OptunaSearch

    plan = sweep_of(
        search="optuna",
        trials=4,
        space={
            "train.optimizer.learning_rate": {"loguniform": [1e-4, 1e-1]},
            "model.units": {"int": [8, 64]},
            "model.units_choice": {"choice": [[8, 8], 16]},
        },
    )

    def proposals():
        state = SweepState(
            folder=tmp_path,
            name="s",
            search="optuna",
            grid={},
            space=plan.space,
            repeats=1,
            planned=4,
            seed=5,
            monitor="val_accuracy",
            direction=Direction.MAX,
        )
        search = OptunaSearch(state, plan)
        proposed = []
        for _ in range(3):
            trial = next_trial(state, search)
            trial.status = "running"
            proposed.append(trial.overrides)
        return proposed

    assert proposals() == proposals()


def test_merged_sweep_adds_command_line_axes():
    config = validate_config(merge(TINY, {"sweep": {"grid": {"seed": [1, 2]}}}))
    plan = merged_sweep(config, grid=["train.optimizer=sgd,adam"], repeats=2)
    assert plan.grid == {"seed": [1, 2], "train.optimizer": ["sgd", "adam"]} and plan.repeats == 2
    plan = merged_sweep(config, random=["model.units=int(8,16)"], trials=3)
    assert plan.search == "random"


def test_a_bad_axis_value_fails_before_anything_runs(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep", config, "--grid", "model.activation=relu,rellu", "--runs-dir", tmp_path / "runs"
    )
    assert result.exit_code == 2 and "did you mean 'relu'" in result.output
    assert not (tmp_path / "runs").exists()
    result = cli("sweep", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2 and "nothing to sweep" in result.output


def test_dry_run_lists_trials_without_training(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep",
        config,
        "--grid",
        "train.optimizer=sgd,adam",
        "--repeats",
        3,
        "--dry-run",
        "--runs-dir",
        tmp_path / "runs",
    )
    assert result.exit_code == 0
    assert "6 runs: 2 settings x 3 seeds" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_sweep_section_in_the_config_is_read(tmp_path):
    config = write_yaml(
        tmp_path / "study.yaml",
        merge(QUICK, {"sweep": {"grid": {"model.activation": ["relu", "tanh"]}, "repeats": 2}}),
    )
    result = cli("sweep", config, "--dry-run", "--grid", "train.batch_size=64,128")
    assert "8 runs: 4 settings x 2 seeds" in result.output


def test_optuna_proposes_a_setting_without_writing_the_sweep(tmp_path):
    pytest.importorskip("optuna")
    from dnn_lab.sweeps.optuna_search import OptunaSearch

    plan = sweep_of(search="optuna", trials=1, repeats=2, space={"model.units": {"int": [8, 64]}})
    state = SweepState(
        folder=tmp_path,
        name="s",
        search="optuna",
        grid={},
        space=plan.space,
        repeats=2,
        planned=2,
        seed=5,
        monitor="val_accuracy",
        direction=Direction.MAX,
    )
    search = OptunaSearch(state, plan)
    update = search.more(state)
    assert state.trials == [], "proposed, not added"
    assert [(t.index, t.seed, t.group) for t in update.trials] == [(0, 5, 0), (1, 6, 0)]
    assert update.trials[0].overrides == update.trials[1].overrides
    record_update(state, update)  # the runner's part
    assert next_trial(state, search) is state.trials[0] and len(state.trials) == 2
    assert not search.more(state), "its one setting is asked"
