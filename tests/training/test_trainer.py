"""Training end to end: the run directory, determinism, and runs that end badly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dnn_lab.config.loading import load_config
from dnn_lab.errors import ConfigError, DnnLabError
from dnn_lab.store import runs
from dnn_lab.store.status import Status
from tests.conftest import TINY, merge, train_config, write_yaml

EVERY_FILE = {
    runs.CONFIG_FILE,
    runs.SUMMARY_FILE,
    runs.PARAMS_FILE,
    runs.HISTORY_FILE,
    runs.METRICS_FILE,
    runs.RUN_FILE,
    runs.MODEL_FILE,
    runs.CURVES_FILE,
}


def test_a_run_directory_holds_every_file(trained):
    names = {p.name for p in trained.run_dir.iterdir()}
    assert names >= EVERY_FILE
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".partial")]
    assert trained.run_dir.name.endswith("-tiny")


def test_run_json_records_status_environment_and_data(trained):
    info = json.loads((trained.run_dir / runs.RUN_FILE).read_text())
    assert info["status"] == "completed"
    assert info["seed"] == 7
    assert info["device"]["kind"] == "cpu"
    assert {"python", "keras", "numpy", "tensorflow"} <= set(info["versions"])
    assert info["data"]["sizes"] == {"train": 1437, "validation": 360}
    assert info["started"] <= info["ended"]


def test_history_has_one_row_per_epoch_with_learning_rate(trained):
    rows = runs.read_history(trained.run_dir / runs.HISTORY_FILE)
    assert [r["epoch"] for r in rows] == [1, 2]
    header = (trained.run_dir / runs.HISTORY_FILE).read_text().splitlines()[0]
    assert header == "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"
    assert rows[0]["lr"] == pytest.approx(0.001)


def test_metrics_name_the_best_epoch(trained):
    metrics = json.loads((trained.run_dir / runs.METRICS_FILE).read_text())
    rows = runs.read_history(trained.run_dir / runs.HISTORY_FILE)
    best = max(rows, key=lambda r: r["val_accuracy"])
    assert metrics["monitor"] == "val_accuracy"
    assert metrics["best_epoch"] == best["epoch"]
    assert metrics["final"]["val_accuracy"] == rows[-1]["val_accuracy"]
    assert metrics["epochs_run"] == 2 and metrics["seconds_per_epoch"] > 0


def test_resolved_config_spells_out_loss_and_output(trained):
    saved = yaml.safe_load((trained.run_dir / runs.CONFIG_FILE).read_text())
    assert saved["train"]["loss"] == "sparse_categorical_crossentropy"
    assert saved["train"]["metrics"] == ["accuracy"]
    assert saved["model"]["output_activation"] == "softmax"


def test_saved_model_loads_and_scores_like_the_history(trained):
    import keras

    from dnn_lab.data.prepare import prepare_data

    model = keras.saving.load_model(trained.run_dir / runs.MODEL_FILE)
    config = load_config(trained.run_dir / runs.CONFIG_FILE)
    data = prepare_data(config.data, config.seed)
    _, accuracy = model.evaluate(data.x_val, data.y_val, verbose=0)
    assert accuracy == pytest.approx(trained.metrics["final"]["val_accuracy"], abs=1e-6)


def test_params_json_matches_keras(trained):
    import keras

    table = json.loads((trained.run_dir / runs.PARAMS_FILE).read_text())
    model = keras.saving.load_model(trained.run_dir / runs.MODEL_FILE)
    assert table["totals"]["total"] == model.count_params() == (64 + 1) * 16 + (16 + 1) * 10


def test_curves_png_is_a_real_image(trained):
    data = (trained.run_dir / runs.CURVES_FILE).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 480)


def test_same_config_twice_gives_the_same_history_to_the_last_digit(trained, tmp_path):
    again = train_config(trained.run_dir / runs.CONFIG_FILE, tmp_path)
    first = (trained.run_dir / runs.HISTORY_FILE).read_text().splitlines()
    second = (again.run_dir / runs.HISTORY_FILE).read_text().splitlines()
    strip_seconds = lambda lines: [line.rsplit(",", 1)[0] for line in lines]  # noqa: E731
    assert strip_seconds(first) == strip_seconds(second)


def test_a_diverging_run_says_so(tmp_path):
    result = train_config(
        {
            "train": {"optimizer": {"name": "sgd", "learning_rate": 1e3}, "epochs": 3},
            "data": {"task": "regression"},
        },
        tmp_path,
    )
    assert result.status == "diverged" and result.exit_code == 3
    info = json.loads((result.run_dir / runs.RUN_FILE).read_text())
    assert info["status"] == "diverged"
    assert info["diverged"]["epoch"] >= 1 and info["diverged"]["batch"] >= 1
    assert "learning rate" in info["message"]


@pytest.mark.parametrize("name", ["my run", "lr=0.1+adam", "réseau ünïcødé"])
def test_a_name_keras_would_refuse_still_trains_and_is_kept(tmp_path, name):
    result = train_config({"name": name, "train": {"epochs": 1}}, tmp_path)
    assert result.status == "completed", result.message
    assert json.loads((result.run_dir / runs.RUN_FILE).read_text())["name"] == name
    config = yaml.safe_load((result.run_dir / runs.CONFIG_FILE).read_text(encoding="utf-8"))
    assert config["name"] == name


def test_bad_input_leaves_no_run_directory(tmp_path):
    runs_dir = tmp_path / "runs"
    with pytest.raises(ConfigError):
        train_config({"train": {"loss": "binary_crossentropy"}}, runs_dir)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_asking_for_a_missing_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(DnnLabError, match="no GPU is visible"):
        train_config({"device": "gpu"}, tmp_path)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- killed mid-training


def _start_long_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    config = write_yaml(tmp_path / "long.yaml", merge(TINY, {"train": {"epochs": 2000}}))
    runs_dir = tmp_path / "runs"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dnn_lab", "train", str(config), "--runs-dir", str(runs_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(runs_dir.glob(f"*/{runs.HISTORY_FILE}"))
        if found and len(runs.read_history(found[0])) >= 2:
            return process, found[0].parent
        if process.poll() is not None:
            pytest.fail(f"training ended early: {process.stdout.read().decode()}")
        time.sleep(0.2)
    process.kill()
    pytest.fail("training did not reach epoch 2 in time")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_and_keeps_its_history(tmp_path, signum, code):
    process, run_dir = _start_long_run(tmp_path)
    process.send_signal(signum)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == code, output
    info = json.loads((run_dir / runs.RUN_FILE).read_text())
    assert info["status"] == "interrupted"
    assert info["interrupted_by"] == signal.Signals(signum).name
    rows = runs.read_history(run_dir / runs.HISTORY_FILE)
    assert len(rows) >= 2 and [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    metrics = json.loads((run_dir / runs.METRICS_FILE).read_text())
    assert metrics["epochs_run"] == len(rows)
    assert "Traceback" not in output


def test_a_killed_run_never_reads_as_completed(tmp_path):
    process, run_dir = _start_long_run(tmp_path)
    process.kill()
    process.wait(timeout=30)
    run = runs.read_run(run_dir)
    assert run.status == Status.CRASHED
    assert len(run.history) >= 2
