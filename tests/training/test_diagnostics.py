"""Diagnostics: gradient flow, dead and saturated units, measured and shown."""

from __future__ import annotations

import importlib.util
import io
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from dnn_lab.analysis import diagnostics
from dnn_lab.cli import app
from dnn_lab.errors import ConfigError
from dnn_lab.store import runs
from dnn_lab.views import show
from tests.conftest import TINY, merge, train_config, train_in_subprocess, write_yaml

DEEP = {
    "model": {"hidden_layers": 6, "units": 32},
    "train": {"epochs": 2, "diagnostics": True, "optimizer": "sgd"},
}


def last_epoch(result):
    table = diagnostics.read(result.run_dir)
    return table[max(table)]


def test_a_deep_sigmoid_network_with_a_poor_initializer_loses_its_gradient(tmp_path):
    # Keras's RandomNormal (stddev 0.05), the notes' example of a poor initializer
    sigmoid = train_config(
        merge(DEEP, {"model": {"activation": "sigmoid", "initializer": "random_normal"}}),
        tmp_path / "sigmoid",
    )
    relu = train_config(
        merge(DEEP, {"model": {"activation": "relu", "initializer": "he_normal"}}),
        tmp_path / "relu",
    )
    bad, good = last_epoch(sigmoid), last_epoch(relu)
    assert bad["hidden_1"]["grad_norm"] < bad["hidden_6"]["grad_norm"] / 100
    assert good["hidden_1"]["grad_norm"] > good["hidden_6"]["grad_norm"] / 100
    assert "vanishing" in diagnostics.flags(bad)["hidden_1"]
    assert "vanishing" not in diagnostics.flags(good)["hidden_1"]


def test_a_relu_layer_with_a_large_negative_bias_is_dead(tmp_path):
    result = train_config(
        {
            "model": {"bias_initializer": {"name": "constant", "value": -10.0}},
            "train": {"epochs": 1, "diagnostics": True},
        },
        tmp_path,
    )
    rows = last_epoch(result)
    assert rows["hidden_1"]["dead_share"] > 0.95
    assert "dead" in diagnostics.flags(rows)["hidden_1"]


def test_sigmoid_with_huge_weights_saturates(tmp_path):
    result = train_config(
        {
            "model": {
                "activation": "sigmoid",
                "initializer": {"name": "random_normal", "stddev": 10.0},
            },
            "train": {"epochs": 1, "diagnostics": True},
        },
        tmp_path,
    )
    rows = last_epoch(result)
    assert rows["hidden_1"]["saturated_share"] > 0.5
    assert "saturated" in diagnostics.flags(rows)["hidden_1"]


def test_values_match_a_hand_computation_with_gradient_tape(tmp_path):
    import keras
    import tensorflow as tf

    from dnn_lab.config.loading import validate_config
    from dnn_lab.data.prepare import prepare_data
    from dnn_lab.training.probe import probe_batch

    result = train_config(
        {"model": {"units": 8}, "train": {"epochs": 2, "diagnostics": True}}, tmp_path
    )
    model = keras.saving.load_model(result.run_dir / runs.MODEL_FILE)
    config = validate_config(merge(TINY, {"model": {"units": 8}}))
    data = prepare_data(config.data, config.seed)
    x, y = probe_batch(data.x_train, data.y_train, config.seed)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=False))
    layer = model.get_layer("hidden_1")
    kernel_grad, bias_grad = tape.gradient(loss, [layer.kernel.value, layer.bias.value])
    recorded = last_epoch(result)["hidden_1"]
    assert recorded["grad_norm"] == pytest.approx(float(tf.norm(kernel_grad)), rel=1e-4)
    assert recorded["bias_grad_norm"] == pytest.approx(float(tf.norm(bias_grad)), rel=1e-4)
    kernel = layer.kernel.numpy()
    assert recorded["weight_std"] == pytest.approx(float(kernel.std()), rel=1e-5)
    assert recorded["weight_max_abs"] == pytest.approx(float(np.abs(kernel).max()), rel=1e-6)
    activations = tf.nn.relu(x.reshape(len(x), -1) @ kernel + layer.bias.numpy()).numpy()
    assert recorded["activation_mean"] == pytest.approx(float(activations.mean()), rel=1e-4)
    assert 0.0 < recorded["update_ratio"] < 1.0


def test_the_csv_grows_per_epoch_and_survives_an_interrupted_run(tmp_path):
    config = write_yaml(
        tmp_path / "c.yaml", merge(TINY, {"train": {"epochs": 3000, "diagnostics": True}})
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dnn_lab",
            "train",
            str(config),
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list((tmp_path / "runs").glob(f"*/{runs.DIAGNOSTICS_FILE}"))
        if found and len(diagnostics.read(found[0].parent)) >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    run_dir = found[0].parent
    table = diagnostics.read(run_dir)
    history = runs.read_history(run_dir / runs.HISTORY_FILE)
    assert runs.read_run(run_dir).status == "interrupted"
    assert sorted(table) == list(range(1, len(table) + 1))
    assert abs(len(table) - len(history)) <= 1
    header = (run_dir / runs.DIAGNOSTICS_FILE).read_text().splitlines()[0]
    assert header == "epoch,layer,metric,value"


def test_show_and_compare_draw_the_diagnostics(tmp_path):
    first = train_config(
        merge(DEEP, {"name": "sigmoid", "model": {"activation": "sigmoid"}}), tmp_path / "runs"
    )
    second = train_config(merge(DEEP, {"name": "relu"}), tmp_path / "runs")
    console = Console(file=io.StringIO(), width=200, color_system=None)
    show.render(show.load(first.run_dir), console)
    text = console.file.getvalue()
    assert "diagnostics (probe batch; epoch 1 -> 2)" in text and "hidden_6" in text
    target = tmp_path / "diag.png"
    show.plot(show.load(first.run_dir), target)
    assert target.read_bytes()[:4] == b"\x89PNG"
    both = tmp_path / "both.png"
    result = CliRunner().invoke(
        app, ["compare", str(first.run_dir), str(second.run_dir), "--plot-diagnostics", str(both)]
    )
    assert result.exit_code == 0, result.output
    width = int.from_bytes(both.read_bytes()[16:20], "big")
    assert width == 1200  # two runs side by side, 600 pixels each


def test_diagnostics_on_torch_is_a_clear_error():
    from dnn_lab.training.probe import check_backend

    with pytest.raises(ConfigError, match="tensorflow or jax backend"):
        check_backend("torch")


def test_diagnostics_on_jax(tmp_path):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    config = write_yaml(tmp_path / "c.yaml", merge(TINY, {"train": {"diagnostics": True}}))
    run_dir = train_in_subprocess(config, tmp_path / "runs", "--backend", "jax")
    table = diagnostics.read(run_dir)
    assert sorted(table) == [1, 2] and table[2]["hidden_1"]["grad_norm"] > 0
    info = json.loads((run_dir / runs.RUN_FILE).read_text())
    assert info["backend"] == "jax"
