"""The fast path is the same math: same results, exact history, every epoch seen.

Speed itself is measured by `make bench`, never here.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from dnn_lab import runs

from .conftest import TINY, merge, train_config, train_in_subprocess, write_yaml

SLOW_PATH = {"steps_per_execution": 1, "jit_compile": False}


def test_automatic_settings_give_the_same_results(tmp_path):
    fast = train_config({"train": {"epochs": 3, "jit_compile": "auto"}}, tmp_path / "fast")
    slow = train_config({"train": {"epochs": 3, **SLOW_PATH}}, tmp_path / "slow")
    execution = json.loads((fast.run_dir / runs.RUN_FILE).read_text())["execution"]
    assert execution["steps_per_execution"] == 23 and execution["jit_compile"] is True
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert fast.metrics["final"][key] == pytest.approx(slow.metrics["final"][key], abs=2e-3)


def test_history_is_exact_when_steps_per_execution_does_not_divide_the_epoch(tmp_path):
    result = train_config(
        {
            "train": {
                "epochs": 4,
                "steps_per_execution": 10,  # 23 steps per epoch: calls of 10, 10, 3
                "optimizer": {"name": "sgd", "learning_rate": 0.1},
                "schedule": {"kind": "exponential", "decay_rate": 0.5, "decay_epochs": 1},
            }
        },
        tmp_path,
    )
    rows = runs.read_history(result.run_dir / runs.HISTORY_FILE)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert [r["lr"] for r in rows] == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_callbacks_see_every_epoch(tmp_path):
    result = train_config(
        {
            "train": {
                "epochs": 6,
                "steps_per_execution": 50,
                "early_stopping": {"patience": 2, "min_delta": 0.3},
            }
        },
        tmp_path,
    )
    metrics = result.metrics
    rows = runs.read_history(result.run_dir / runs.HISTORY_FILE)
    assert metrics["early_stopped"] and len(rows) == metrics["epochs_run"] == 3


def test_mixed_precision_keeps_a_float32_output(tmp_path):
    import keras

    result = train_config({"train": {"epochs": 1, "precision": "mixed_bfloat16"}}, tmp_path)
    try:
        assert result.status == "completed"
        model = keras.saving.load_model(result.run_dir / runs.MODEL_FILE)
        assert model.get_layer("hidden_1").compute_dtype == "bfloat16"
        assert model.get_layer("output").compute_dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_devices_all_trains_data_parallel(tmp_path):
    result = train_config({"devices": "all", "train": {"epochs": 1}}, tmp_path)
    info = json.loads((result.run_dir / runs.RUN_FILE).read_text())
    assert result.status == "completed"
    assert info["execution"]["distribution"]["strategy"] == "MirroredStrategy"


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_each_installed_backend_trains_the_default_config(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install 'dnn-lab[{backend}]')")
    config = write_yaml(tmp_path / "c.yaml", merge(TINY, {"train": {"epochs": 2}}))
    run_dir = train_in_subprocess(config, tmp_path / "runs", "--backend", backend)
    info = json.loads((run_dir / runs.RUN_FILE).read_text())
    assert info["backend"] == backend and backend in info["versions"]
    assert info["status"] == "completed"
    assert len(runs.read_history(run_dir / runs.HISTORY_FILE)) == 2
    assert (run_dir / runs.MODEL_FILE).is_file()
