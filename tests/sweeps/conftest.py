"""Helpers shared by the sweep tests: a quick config, the CLI, runs with known scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.store import runs
from tests.conftest import TINY, fake_run, merge

QUICK = merge(TINY, {"model": {"units": 8}, "train": {"epochs": 1, "batch_size": 128}})


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def only_sweep(folder: Path) -> Path:
    """The one sweep folder under ``folder``."""
    (found,) = [p for p in folder.iterdir() if p.name.endswith("-sweep")]
    return found


def history(run_dir) -> list[dict]:
    """A run's history without its timings, for comparing runs digit for digit."""
    rows = runs.read_history(Path(run_dir) / runs.HISTORY_FILE)
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


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
