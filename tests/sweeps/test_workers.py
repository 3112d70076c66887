"""Warm workers: trial after trial in one process, each exactly as it would run alone."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.store import runs
from dnn_lab.sweeps.state import BASE_FILE, SweepState
from dnn_lab.sweeps.workers import auto_workers, thread_environment
from tests.conftest import TINY, merge, write_yaml
from tests.sweeps.conftest import history, only_sweep

# dropout draws random masks every step: any difference in seeding or state shows up
WARM = merge(TINY, {"model": {"units": 8, "dropout": 0.3}, "train": {"epochs": 2}})


def sweep(tmp_path: Path, *args) -> Path:
    config = write_yaml(tmp_path / "warm.yaml", WARM)
    result = CliRunner().invoke(
        app, ["sweep", str(config), "--runs-dir", str(tmp_path / "runs"), *map(str, args)]
    )
    assert result.exit_code == 0, result.output
    return only_sweep(tmp_path / "runs")


def run_info(trial) -> dict:
    return json.loads((Path(trial.run_dir) / runs.RUN_FILE).read_text())


def test_a_warm_trial_gives_the_history_of_the_same_trial_alone(tmp_path):
    folder = sweep(tmp_path, "--grid", "model.activation=relu,tanh", "--repeats", 2, "--workers", 1)
    state = SweepState.load(folder)
    assert [t.status for t in state.trials] == ["completed"] * 4
    pids = {run_info(t)["pid"] for t in state.trials}
    assert len(pids) == 1, "one worker trained every trial"
    # a trial of the setting before, another seed, trains the compiled model kept from it
    reused = [run_info(t)["execution"]["reused_compiled_step"] for t in state.trials]
    names = [Path(t.run_dir).name for t in state.trials]
    assert reused == [None, names[0], None, names[2]]
    last = state.trials[-1]  # the fourth trial its worker trained, on the third's model
    alone = subprocess.run(
        [
            sys.executable,
            "-m",
            "dnn_lab",
            "train",
            str(folder / BASE_FILE),
            "--runs-dir",
            str(tmp_path / "alone"),
            "--name",
            f"{state.name}-{last.index:03d}",
            *[part for arg in last.set_args() for part in ("--set", arg)],
        ],
        env={**os.environ, **thread_environment(os.cpu_count() or 1)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert alone.returncode == 0, alone.stdout + alone.stderr
    (alone_dir,) = (tmp_path / "alone").iterdir()
    assert history(last.run_dir) == history(alone_dir)
    warm_summary = (Path(last.run_dir) / runs.SUMMARY_FILE).read_text()
    assert warm_summary == (alone_dir / runs.SUMMARY_FILE).read_text(), "fresh layer names"
    log = last.log_path(folder).read_text()
    assert "completed" in log and "epoch 2/2" in log, "each trial keeps its own log"


def test_a_trial_that_needs_other_process_settings_gets_another_worker(tmp_path):
    # float32 twice, as two settings: one setting listed twice is refused (one seed, twice)
    grid = "train={precision: float32},{precision: mixed_bfloat16},{precision: float32, epochs: 1}"
    folder = sweep(tmp_path, "--grid", grid, "--workers", 1)
    state = SweepState.load(folder)
    assert [t.status for t in state.trials] == ["completed"] * 3
    pids = [run_info(t)["pid"] for t in state.trials]
    assert pids[0] != pids[1] != pids[2], "precision is process-wide: a worker each time"


def test_a_failed_trial_costs_its_worker_and_nothing_else(tmp_path):
    folder = sweep(
        tmp_path,
        "--grid",
        # passes validation, fails in the trial: there is no run to start from
        f"model.init_from={tmp_path / 'no-such-run'},null",
        "--repeats",
        2,
        "--workers",
        1,
    )
    state = SweepState.load(folder)
    assert [t.status for t in state.trials] == ["failed", "failed", "completed", "completed"]
    assert "no-such-run" in state.trials[0].message
    assert "no-such-run" in state.trials[0].log_path(folder).read_text()
    third, fourth = (run_info(t)["pid"] for t in state.trials[2:])
    assert third == fourth, "the replacement worker stays warm"


def test_workers_die_with_their_driver(tmp_path):
    config = write_yaml(tmp_path / "long.yaml", merge(WARM, {"train": {"epochs": 500}}))
    driver = subprocess.Popen(
        [sys.executable, "-m", "dnn_lab", "sweep", str(config), "--repeats", "2", "--workers", "2"]
        + ["--runs-dir", str(tmp_path / "runs")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        for run_json in (tmp_path / "runs").glob("*-sweep/*/run.json"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                workers.add(json.loads(run_json.read_text())["pid"])
        time.sleep(0.3)
    assert len(workers) == 2, "both trials started"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), "no trial outlives its sweep"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for a parent that is gone counts as dead
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    "cores,trials,gpus,expected",
    [(2, 12, 0, (2, 1)), (2, 1, 0, (1, 2)), (16, 4, 0, (4, 4)), (16, 40, 2, (2, 8))],
)
def test_auto_workers_share_the_cores(monkeypatch, cores, trials, gpus, expected):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert auto_workers(trials, gpus) == expected


def test_workers_take_a_count_or_auto(tmp_path):
    config = write_yaml(tmp_path / "warm.yaml", WARM)
    for value, code in (("auto", 0), ("2", 0), ("lots", 2), ("0", 2)):
        result = CliRunner().invoke(
            app, ["sweep", str(config), "--repeats", "2", "--workers", value, "--dry-run"]
        )
        assert result.exit_code == code, result.output
        if code:
            assert "--workers: expected a number of at least 1, or auto" in result.output
