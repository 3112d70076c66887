"""Shared fixtures: tiny configs on the embedded digits data, and one trained run."""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TINY = {
    "name": "tiny",
    "seed": 7,
    "data": {"dataset": "digits", "validation_split": 0.2},
    "model": {"hidden_layers": 1, "units": 16},
    "train": {"epochs": 2, "batch_size": 64},
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
    from dnn_lab.config import load_config, validate_config
    from dnn_lab.train import train

    if isinstance(path_or_data, dict):
        config = validate_config(merge(TINY, path_or_data))
    else:
        config = load_config(Path(path_or_data), overrides)
    return train(config, runs_dir, console=quiet_console(), command=["test"])


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One completed tiny run, shared by the tests that only read it."""
    runs_dir = tmp_path_factory.mktemp("runs")
    result = train_config({}, runs_dir)
    assert result.status == "completed", result.message
    return result
