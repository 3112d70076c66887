"""Sweeps: expansion, search, workers, resume, failures, statistics and the report."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.config.schema import SweepConfig, validate_config
from dnn_lab.errors import ConfigError
from dnn_lab.results import rundir as runs
from dnn_lab.results import study
from dnn_lab.results.direction import Direction
from dnn_lab.sweep.plan import (
    grid_trials,
    merged_sweep,
    parse_distribution,
    parse_grid_axis,
    random_trials,
    split_values,
)
from dnn_lab.sweep.state import SweepState
from tests.conftest import TINY, fake_run, merge, write_yaml

QUICK = merge(TINY, {"model": {"units": 8}, "train": {"epochs": 1, "batch_size": 128}})


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def sweep_of(**kwargs) -> SweepConfig:
    return SweepConfig.model_validate(kwargs)


# ---------------------------------------------------------------- planning


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
    from dnn_lab.config.schema import apply_overrides

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
    from dnn_lab.sweep import plan

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
    from dnn_lab.config.schema import apply_overrides

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
    from dnn_lab.sweep.optuna_search import OptunaSearch

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
            trial = search.ask(state)
            trial.status = "running"
            proposed.append(trial.overrides)
        return proposed

    assert proposals() == proposals()


# ---------------------------------------------------------------- running


def only_sweep(folder):
    (found,) = [p for p in folder.iterdir() if p.name.endswith("-sweep")]
    return found


def histories(sweep_dir):
    state = SweepState.load(sweep_dir)
    out = {}
    for trial in state.trials:
        lines = runs.read_history(os.path.join(trial.run_dir, runs.HISTORY_FILE))
        out[trial.index] = [{k: v for k, v in row.items() if k != "seconds"} for row in lines]
    return out


def test_parallel_workers_give_the_same_results_as_one(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    for workers in (1, 2):
        result = cli(
            "sweep",
            config,
            "--grid",
            "model.activation=relu,tanh",
            "--runs-dir",
            tmp_path / f"w{workers}",
            "--workers",
            workers,
        )
        assert result.exit_code == 0, result.output
    one, two = (histories(only_sweep(tmp_path / f"w{n}")) for n in (1, 2))
    assert one == two and len(one) == 2


def test_a_failing_trial_does_not_stop_the_others(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep",
        config,
        "--grid",
        "model.initializer={name: variance_scaling, mode: sideways},glorot_uniform",
        "--runs-dir",
        tmp_path / "runs",
    )
    assert result.exit_code == 0, result.output
    state = SweepState.load(only_sweep(tmp_path / "runs"))
    assert [t.status for t in state.trials] == ["failed", "completed"]
    assert "failed #000" in result.output and "sideways" in result.output


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


def test_optuna_sweep_runs_and_records_its_trials(tmp_path):
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
        "train.optimizer.learning_rate=loguniform(1e-3,1e-1)",
        "--runs-dir",
        tmp_path / "runs",
    )
    assert result.exit_code == 0, result.output
    state = SweepState.load(only_sweep(tmp_path / "runs"))
    assert len(state.trials) == 2 and all(t.status == "completed" for t in state.trials)
    assert all(t.value is not None for t in state.trials)


def test_resume_after_a_killed_sweep_keeps_completed_trials(tmp_path):
    config = write_yaml(tmp_path / "slow.yaml", merge(QUICK, {"train": {"epochs": 3}}))
    slower = "train.epochs=3,400"  # trial 0 finishes quickly, trial 1 is still training
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dnn_lab",
            "sweep",
            str(config),
            "--grid",
            slower,
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        folder = tmp_path / "runs"
        sweeps = list(folder.glob("*-sweep")) if folder.exists() else []
        if sweeps:
            state = SweepState.load(sweeps[0])
            trial = state.trials[1]
            if (
                trial.run_dir
                and len(runs.read_history(os.path.join(trial.run_dir, runs.HISTORY_FILE))) >= 1
            ):
                break
        time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("the sweep never reached its second trial")
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 130, output
    sweep_dir = only_sweep(tmp_path / "runs")
    state = SweepState.load(sweep_dir)
    assert state.status == "interrupted"
    assert [t.status for t in state.trials] == ["completed", "interrupted"]
    first_run = state.trials[0].run_dir
    interrupted = runs.read_run(state.trials[1].run_dir)
    assert interrupted.status == "interrupted" and interrupted.history

    # finish quickly: trial 1 would train its 400 epochs again; shorten its setting in
    # sweep.json (a user would let it run)
    payload = json.loads((sweep_dir / "sweep.json").read_text())
    payload["trials"][1]["overrides"]["train.epochs"] = 2
    (sweep_dir / "sweep.json").write_text(json.dumps(payload))
    result = cli("sweep", "--resume", sweep_dir)
    assert result.exit_code == 0, result.output
    state = SweepState.load(sweep_dir)
    assert [t.status for t in state.trials] == ["completed", "completed"]
    assert state.trials[0].run_dir == first_run  # not run again
    names = sorted(p.name for p in sweep_dir.iterdir() if runs.is_run_dir(p))
    assert len([n for n in names if n.endswith("-000")]) == 1
    assert len([n for n in names if n.endswith("-001")]) == 2  # the interrupted run is kept


# ---------------------------------------------------------------- statistics and report


def test_t_critical_values_match_the_tables():
    assert study.t_critical(1) == pytest.approx(12.706, abs=1e-3)
    assert study.t_critical(2) == pytest.approx(4.303, abs=1e-3)
    assert study.t_critical(30) == pytest.approx(2.042, abs=1e-3)
    assert study.t_critical(60) == pytest.approx(2.000, abs=2e-3)
    assert study.t_critical(1000) == pytest.approx(1.962, abs=1e-3)


def test_setting_statistics_against_hand_computed_values():
    setting = study.Setting({"x": 1}, scores=[0.8, 0.9, 0.85])
    assert setting.mean == pytest.approx(0.85)
    assert setting.std == pytest.approx(0.05)
    assert setting.half_width == pytest.approx(4.303 * 0.05 / math.sqrt(3), abs=1e-4)
    assert setting.interval == pytest.approx((0.85 - 0.12421, 0.85 + 0.12421), abs=1e-4)


def acc_history(*values):
    return [
        {
            "epoch": i + 1,
            "loss": 1 - v,
            "accuracy": v,
            "val_loss": 1 - v,
            "val_accuracy": v,
            "lr": 0.001,
            "seconds": 0.1,
        }
        for i, v in enumerate(values)
    ]


@pytest.fixture
def seeded_runs(tmp_path):
    root = tmp_path / "study"
    scores = {"adam": [0.90, 0.92, 0.91], "sgd": [0.80, 0.84, 0.82], "rmsprop": [0.89, 0.93, 0.91]}
    for optimizer, values in scores.items():
        for seed, value in enumerate(values):
            fake_run(
                root,
                f"{optimizer}-{seed}",
                {"name": f"{optimizer}-{seed}", "seed": seed, "train": {"optimizer": optimizer}},
                acc_history(value - 0.1, value),
            )
    return root


def test_grouping_over_seeds_and_the_verdict(seeded_runs):
    from dnn_lab.results.compare import collect

    found, _ = collect([seeded_runs])
    result = study.group_runs(found)
    assert result.keys == ["train.optimizer"]
    assert [s.values["train.optimizer"] for s in result.settings] == ["adam", "rmsprop", "sgd"]
    best = result.settings[0]
    assert best.n == 3 and best.mean == pytest.approx(0.91) and best.std == pytest.approx(0.01)
    assert "not significant at 3 seeds" in result.verdict  # adam vs rmsprop overlap
    by = study.group_runs(found, by="train.optimizer")
    assert len(by.settings) == 3


def test_significant_difference_is_reported(tmp_path):
    from dnn_lab.results.compare import collect

    for optimizer, values in {"adam": [0.95, 0.951, 0.949], "sgd": [0.5, 0.51, 0.49]}.items():
        for seed, value in enumerate(values):
            fake_run(
                tmp_path,
                f"{optimizer}-{seed}",
                {"name": optimizer, "seed": seed, "train": {"optimizer": optimizer}},
                acc_history(value),
            )
    result = study.group_runs(collect([tmp_path])[0])
    assert "do not overlap at 3 seeds" in result.verdict


def test_compare_groups_a_sweep_folder_and_report_writes_files(seeded_runs):
    (seeded_runs / "sweep.json").write_text(
        json.dumps({"name": "opt", "search": "grid", "grid": {"train.optimizer": []}, "repeats": 3})
    )
    (seeded_runs / "base.yaml").write_text("name: opt\n")
    result = cli("compare", seeded_runs, "--format", "json")
    payload = json.loads(result.output)
    assert payload["settings"][0]["mean"] == pytest.approx(0.91)
    assert payload["settings"][0]["n"] == 3 and len(payload["settings"][0]["runs"]) == 3
    result = cli("report", seeded_runs)
    assert result.exit_code == 0, result.output
    markdown = (seeded_runs / "report.md").read_text()
    assert "| 1 | adam | 3 | 0.9100 | 0.0100 |" in markdown
    assert "not significant at 3 seeds" in markdown and "report-curves.png" in markdown
    html = (seeded_runs / "report.html").read_text()
    assert "<table>" in html and "<img" in html and "adam" in html
    assert (seeded_runs / "report-curves.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_statistics_count_only_the_run_each_trial_records(seeded_runs):
    trials = []
    for index, optimizer in enumerate(["adam", "sgd", "rmsprop"]):
        for seed in range(3):
            run_dir = f"relative/elsewhere/{optimizer}-{seed}"  # found by name in the folder
            trials.append(
                {"index": index * 3 + seed, "overrides": {}, "seed": seed, "run_dir": run_dir}
            )
    (seeded_runs / "sweep.json").write_text(
        json.dumps({"name": "opt", "search": "grid", "repeats": 3, "trials": trials})
    )
    # a stray: adam's first trial, run again after its driver died; sweep.json does not
    # point at it, so it must not count
    fake_run(
        seeded_runs,
        "adam-0-stray",
        {"name": "adam-0", "seed": 0, "train": {"optimizer": "adam"}},
        acc_history(0.1, 0.2),
    )
    payload = json.loads(cli("compare", seeded_runs, "--format", "json").output)
    adam = next(s for s in payload["settings"] if "adam" in s.values())
    assert adam["n"] == 3 and len(adam["runs"]) == 3 and adam["mean"] == pytest.approx(0.91)
    result = cli("report", seeded_runs)
    assert result.exit_code == 0, result.output
    assert "| 1 | adam | 3 | 0.9100 | 0.0100 |" in (seeded_runs / "report.md").read_text()


def test_merged_sweep_adds_command_line_axes():
    config = validate_config(merge(TINY, {"sweep": {"grid": {"seed": [1, 2]}}}))
    plan = merged_sweep(config, grid=["train.optimizer=sgd,adam"], repeats=2)
    assert plan.grid == {"seed": [1, 2], "train.optimizer": ["sgd", "adam"]} and plan.repeats == 2
    plan = merged_sweep(config, random=["model.units=int(8,16)"], trials=3)
    assert plan.search == "random"
