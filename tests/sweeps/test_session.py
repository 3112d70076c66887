"""One sweep as a function: the request, the outcome, the checks that moved out of the CLI."""

from __future__ import annotations

import io
import os

import pytest
from rich.console import Console

from dnn_lab.config.loading import load_config
from dnn_lab.errors import DnnLabError
from dnn_lab.sweeps import workers as worker_module
from dnn_lab.sweeps.session import PLANNED, SweepRequest, run_sweep, worker_count
from dnn_lab.sweeps.state import SweepState
from dnn_lab.sweeps.view import SweepView
from dnn_lab.sweeps.workers import capped_workers
from tests.conftest import write_yaml
from tests.sweeps.conftest import QUICK, cli, only_sweep


def text_view() -> tuple[SweepView, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    view = SweepView(
        Console(file=out, width=120, color_system=None),
        Console(file=err, width=120, color_system=None),
    )
    return view, out, err


def test_a_dry_run_returns_the_planned_trials_and_makes_no_folder(tmp_path):
    config = load_config(write_yaml(tmp_path / "quick.yaml", QUICK))
    view, out, _ = text_view()
    request = SweepRequest(
        config=config,
        grid=("model.units=4,8",),
        repeats=2,
        runs_dir=tmp_path / "runs",
        dry_run=True,
    )
    outcome = run_sweep(request, view)
    assert (outcome.folder, outcome.exit_code, outcome.status) == (None, 0, PLANNED)
    assert outcome.planned == 4 and outcome.counts == {"pending": 4}
    assert [t.set_args() for t in outcome.trials][:2] == [
        ["model.units=4", "seed=7"],
        ["model.units=4", "seed=8"],
    ]
    assert "4 runs: 2 settings x 2 seeds (grid search)" in out.getvalue()
    assert not (tmp_path / "runs").exists()


def test_more_workers_than_the_machine_holds_are_capped_and_said_on_stderr(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli("sweep", config, "--repeats", 2, "--workers", 64, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], "one line on stderr"
    assert "warning: workers: 64 asked, 2 started: 2 cores" in result.stderr
    assert "2 trials, 2 at a time" in result.stdout
    state = SweepState.load(only_sweep(tmp_path / "runs"))
    assert [t.status for t in state.trials] == ["completed", "completed"]


@pytest.mark.parametrize(
    ("asked", "cores", "memory", "expected"),
    [
        (64, 2, 24 * 2**30, 2),  # the cores hold two
        (8, 16, 1 * 2**30, 3),  # 1 GiB holds three workers of 300 MB
        (4, 16, 64 * 2**30, 4),  # room for all: nothing said
        (3, 4, None, 3),  # memory unknown: the cores decide
    ],
)
def test_the_worker_cap_is_what_cores_and_memory_hold(monkeypatch, asked, cores, memory, expected):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(worker_module, "physical_memory", lambda: memory)
    count, why = capped_workers(asked)
    assert count == expected
    assert (why is None) == (count == asked)
    if why:
        assert why.startswith(f"workers: {asked} asked, {expected} started: {cores} cores")


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("auto", None), (" 3 ", 3), (2, 2)])
def test_worker_count_takes_a_count_or_auto(value, expected):
    assert worker_count(value) == expected


@pytest.mark.parametrize("value", ["lots", "0", 0, -1, True])
def test_worker_count_refuses_anything_else(value):
    with pytest.raises(DnnLabError, match="--workers: expected a number of at least 1, or auto"):
        worker_count(value)


def test_ray_options_with_the_local_executor_are_a_user_error(tmp_path):
    config = load_config(write_yaml(tmp_path / "quick.yaml", QUICK))
    request = SweepRequest(config=config, repeats=2, cpus_per_trial=2.0, dry_run=True)
    with pytest.raises(DnnLabError, match="--cpus-per-trial: only with --executor ray"):
        run_sweep(request, text_view()[0])


def test_a_request_with_neither_config_nor_folder_says_what_to_give():
    with pytest.raises(DnnLabError, match="give a CONFIG to sweep, or --resume SWEEP_DIR"):
        run_sweep(SweepRequest(repeats=2), text_view()[0])
