"""Shared fixtures: tiny configs on the embedded digits data, and one trained run."""

from __future__ import annotations

import copy
import io
import os
import tempfile
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# compiled programs are cached per test session, never in the user's own cache folder
os.environ.setdefault("DNN_LAB_CACHE_DIR", tempfile.mkdtemp(prefix="dnn-lab-cache-"))

TINY = {
    "name": "tiny",
    "seed": 7,
    "data": {"dataset": "digits", "validation_split": 0.2},
    "model": {"hidden_layers": 1, "units": 16},
    # XLA compiles each new model for about a second; most tests train many small models, so
    # they skip it. The default, compiled path has its own tests (test_speed, `trained`).
    "train": {"epochs": 2, "batch_size": 64, "jit_compile": False},
}


def merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def make_config(tmp_path):
    """Write a tiny config, with sections merged in, and return its path."""

    def make(extra: dict | None = None, filename: str = "tiny.yaml") -> Path:
        return write_yaml(tmp_path / filename, merge(TINY, extra or {}))

    return make


def quiet_console():
    from rich.console import Console

    return Console(file=io.StringIO(), width=120, color_system=None)


def train_config(path_or_data, runs_dir: Path, overrides=()):
    """Train in-process, as `dnn-lab train` does, and return the TrainResult."""
    from dnn_lab.config.loading import load_config, validate_config
    from dnn_lab.training.trainer import train

    if isinstance(path_or_data, dict):
        config = validate_config(merge(TINY, path_or_data))
    else:
        config = load_config(Path(path_or_data), overrides)
    return train(config, runs_dir, console=quiet_console(), command=["test"])


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One completed tiny run, shared by the tests that only read it."""
    runs_dir = tmp_path_factory.mktemp("runs")
    result = train_config({"train": {"jit_compile": "auto"}}, runs_dir)
    assert result.status == "completed", result.message
    return result


def fake_run(
    root: Path,
    folder: str,
    config: dict | None = None,
    history: list[dict] | None = None,
    status: str = "completed",
    started: str = "2026-01-01T10:00:00+00:00",
    metrics: bool = True,
) -> Path:
    """A run directory written by hand, with known numbers, for the readers' tests."""
    from dnn_lab.config.loading import validate_config
    from dnn_lab.store import runs

    resolved = validate_config(merge(TINY, config or {})).to_dict()
    history = history or [
        {
            "epoch": 1,
            "loss": 1.0,
            "accuracy": 0.5,
            "val_loss": 1.2,
            "val_accuracy": 0.4,
            "lr": 0.001,
            "seconds": 0.5,
        },
        {
            "epoch": 2,
            "loss": 0.5,
            "accuracy": 0.8,
            "val_loss": 0.7,
            "val_accuracy": 0.7,
            "lr": 0.001,
            "seconds": 0.25,
        },
    ]
    path = root / folder
    path.mkdir(parents=True)
    info = {
        "status": status,
        "name": resolved["name"],
        "started": started,
        "seed": 7,
        "config": resolved,
        "params": {"total": 1210, "trainable": 1210, "non_trainable": 0},
    }
    runs.write_json(path / runs.RUN_FILE, info)
    runs.atomic_write_text(path / runs.CONFIG_FILE, yaml.safe_dump(resolved, sort_keys=False))
    runs.atomic_write_text(path / runs.HISTORY_FILE, runs.history_to_csv(history))
    if metrics:
        best = max(history, key=lambda r: r["val_accuracy"])
        strip = lambda row: {k: v for k, v in row.items() if k not in ("epoch", "lr", "seconds")}  # noqa: E731
        runs.write_json(
            path / runs.METRICS_FILE,
            {
                "epochs_run": len(history),
                "final": strip(history[-1]),
                "monitor": "val_accuracy",
                "best_epoch": best["epoch"],
                "best": strip(best),
                "seconds_per_epoch": history[-1]["seconds"],
            },
        )
    return path


def train_in_subprocess(config: Path, runs_dir: Path, *args: str) -> Path:
    """`dnn-lab train CONFIG` in a fresh process (another backend, say); its one run dir."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "dnn_lab", "train", str(config), "--runs-dir", str(runs_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = Path(runs_dir).iterdir()
    return run_dir


def dead_pid() -> int:
    """The pid of a process that has just ended (a killed run's, say)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


# The folders whose tests start trainings, sweeps and clusters, longest first: handed out
# first, they run beside the many short tests instead of after them, so the suite's last
# minutes are not one long file on one core (``make test`` shares files out, see Makefile).
SLOW_FOLDERS = ("sweeps", "training", "ci", "api", "store", "exporters")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        parts = Path(str(item.fspath)).parts
        folder = parts[parts.index("tests") + 1] if "tests" in parts else ""
        return SLOW_FOLDERS.index(folder) if folder in SLOW_FOLDERS else len(SLOW_FOLDERS)

    items.sort(key=rank)  # stable: each file's tests keep their order
