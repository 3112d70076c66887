"""The time a run prints and records is its whole time, data loading included, with its parts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from dnn_lab.render.formatting import number
from dnn_lab.store import runs
from tests.conftest import TINY, merge, write_yaml


def test_the_time_printed_and_recorded_includes_loading_the_data(tmp_path):
    """A CSV big enough that reading it takes longer than the one short epoch."""
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.normal(size=(100_000, 8)), rng.integers(0, 2, 100_000)])
    data = tmp_path / "big.csv"
    np.savetxt(
        data,
        table,
        fmt=["%.4f"] * 8 + ["%d"],
        delimiter=",",
        header="a,b,c,d,e,f,g,h,y",
        comments="",
    )
    config = write_yaml(
        tmp_path / "big.yaml",
        merge(
            TINY,
            {
                "data": {"dataset": "csv", "path": str(data), "target": "y"},
                "model": {"units": 4},
                "train": {"epochs": 1, "batch_size": 4096},
            },
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "dnn_lab", "train", str(config), "--runs-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = (tmp_path / "r").iterdir()
    metrics = json.loads((run_dir / runs.METRICS_FILE).read_text())
    timing = metrics["timing"]
    assert metrics["wall_seconds"] == timing["total"]
    assert timing["data"] > 0 and timing["epochs"] > 0
    assert metrics["wall_seconds"] >= timing["data"] + timing["epochs"]
    line = next(line for line in done.stdout.splitlines() if line.startswith("completed in"))
    assert line.startswith(f"completed in {number(timing['total'], 'short')}s (")
    assert f"data {number(timing['data'], 'short')}s" in line and "s/epoch" in line
    shown = subprocess.run(
        [sys.executable, "-m", "dnn_lab", "show", str(run_dir)], capture_output=True, text=True
    )
    assert f"time: {number(timing['total'], 'short')}s in all" in shown.stdout
    if Path("/proc/self/stat").exists():  # what tells this run's process from a later one
        assert isinstance(json.loads((run_dir / runs.RUN_FILE).read_text())["pid_started"], int)
