"""Running sweeps: workers, failures, Optuna, resume after Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnn_lab.store import runs
from dnn_lab.sweeps.state import SweepState
from tests.conftest import merge, write_yaml
from tests.sweeps.conftest import QUICK, cli, history, only_sweep


def histories(sweep_dir):
    return {t.index: history(t.run_dir) for t in SweepState.load(sweep_dir).trials}


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


def test_each_setting_stays_on_one_worker_which_reuses_its_compiled_model(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep",
        config,
        "--grid",
        "model.activation=relu,tanh",
        "--repeats",
        3,
        "--runs-dir",
        tmp_path / "runs",
        "--workers",
        2,
    )
    assert result.exit_code == 0, result.output
    state = SweepState.load(only_sweep(tmp_path / "runs"))
    infos = {
        t.index: json.loads((Path(t.run_dir) / runs.RUN_FILE).read_text()) for t in state.trials
    }
    settings_of: dict[int, set[str]] = {}  # worker pid -> the settings it ran
    for trial in state.trials:
        settings_of.setdefault(infos[trial.index]["pid"], set()).add(trial.setting())
    assert len(settings_of) == 2, "the two settings ran side by side"
    # a worker keeps its setting while that setting has seeds to start (it may take over
    # another's last seeds when its own are done, never go back): it compiles once for
    # each setting it ran, and reuses that compiled step for the rest
    compiled = sum(len(settings) for settings in settings_of.values())
    reused = [i for i, info in infos.items() if info["execution"]["reused_compiled_step"]]
    assert len(reused) == len(state.trials) - compiled
    assert compiled <= 3, f"workers switched settings more than once: {settings_of}"


def test_a_failing_trial_does_not_stop_the_others(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep",
        config,
        "--grid",
        # passes validation, fails in the trial: there is no run to start from
        f"model.init_from={tmp_path / 'no-such-run'},null",
        "--runs-dir",
        tmp_path / "runs",
    )
    assert result.exit_code == 0, result.output
    state = SweepState.load(only_sweep(tmp_path / "runs"))
    assert [t.status for t in state.trials] == ["failed", "completed"]
    assert "failed #000" in result.output and "no-such-run" in result.output


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
            "--workers",  # one at a time: trial 0 is done before trial 1 starts
            "1",
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
