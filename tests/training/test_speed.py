"""The fast path is the same math: same results, exact history, every epoch seen.

Speed itself is measured by `make bench`, never here.
"""

from __future__ import annotations

import importlib.util
import json
import types

import pytest

from dnn_lab.store import runs
from tests.conftest import TINY, merge, train_config, train_in_subprocess, write_yaml

SLOW_PATH = {"steps_per_execution": 1, "jit_compile": False}


def execution_of(result) -> dict:
    return json.loads((result.run_dir / runs.RUN_FILE).read_text())["execution"]


def test_automatic_settings_give_the_same_results(tmp_path):
    fast = train_config({"train": {"epochs": 3, "jit_compile": "auto"}}, tmp_path)
    slow = train_config({"train": {"epochs": 3, **SLOW_PATH}}, tmp_path)
    execution = execution_of(fast)
    # a two-epoch run of a tiny network: an XLA compile would cost more than it saves
    assert execution["steps_in_graph"] and execution["jit_compile"] is False
    assert "would not pay" in execution["jit_reason"]
    assert execution["steps_per_execution"] == 22  # the whole epoch's 22 full batches per call
    assert not execution_of(slow)["steps_in_graph"]
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert fast.metrics["final"][key] == pytest.approx(slow.metrics["final"][key], abs=2e-3)


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_steps_in_the_graph_are_the_steps_keras_would_run(tmp_path, jit):
    """Same mini-batches, dropout masks and updates: the histories agree to the last digit."""
    extra = {"model": {"dropout": 0.3}, "train": {"epochs": 3, "jit_compile": jit}}
    grouped = train_config(merge(extra, {"train": {"steps_per_execution": 10}}), tmp_path)
    one_by_one = train_config(merge(extra, {"train": {"steps_per_execution": 1}}), tmp_path)
    assert execution_of(grouped)["steps_in_graph"]
    assert not execution_of(one_by_one)["steps_in_graph"]
    history = [runs.read_history(r.run_dir / runs.HISTORY_FILE) for r in (grouped, one_by_one)]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert [row[key] for row in history[0]] == [row[key] for row in history[1]]


def test_history_is_exact_when_steps_per_execution_does_not_divide_the_epoch(tmp_path):
    result = train_config(
        {
            "train": {
                "epochs": 4,
                "steps_per_execution": 10,  # 22 full batches and a short one: 10, 10, 2, 1
                "optimizer": {"name": "sgd", "learning_rate": 0.1},
                "schedule": {"kind": "exponential", "decay_rate": 0.5, "decay_epochs": 1},
            }
        },
        tmp_path,
    )
    rows = runs.read_history(result.run_dir / runs.HISTORY_FILE)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert [r["lr"] for r in rows] == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_every_optimizer_step_runs(tmp_path):
    """Steps in the graph advance the optimizer once per mini-batch, short batch included."""
    import keras

    result = train_config({"train": {"epochs": 2, "steps_per_execution": 10}}, tmp_path)
    model = keras.saving.load_model(result.run_dir / runs.MODEL_FILE)
    assert int(model.optimizer.iterations) == 2 * 23


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


def test_devices_all_on_jax_trains_data_parallel_with_keras_loop(tmp_path):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install 'dnn-lab[jax]')")
    config = write_yaml(tmp_path / "c.yaml", merge(TINY, {"devices": "all"}))
    run_dir = train_in_subprocess(config, tmp_path / "runs", "--backend=jax")
    info = json.loads((run_dir / runs.RUN_FILE).read_text())
    assert info["status"] == "completed"
    assert info["execution"]["distribution"]["strategy"] == "DataParallel"
    assert not info["execution"]["steps_in_graph"]
    assert len(runs.read_history(run_dir / runs.HISTORY_FILE)) == 2


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


def test_jax_steps_in_the_graph_are_the_steps_keras_would_run(tmp_path):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install 'dnn-lab[jax]')")
    config = write_yaml(
        tmp_path / "c.yaml",
        merge(TINY, {"model": {"dropout": 0.3}, "train": {"epochs": 2, "jit_compile": True}}),
    )
    histories = []
    for steps in ("10", "1"):
        run_dir = train_in_subprocess(
            config,
            tmp_path / f"runs-{steps}",
            "--backend=jax",
            f"--set=train.steps_per_execution={steps}",
        )
        execution = json.loads((run_dir / runs.RUN_FILE).read_text())["execution"]
        assert execution["steps_in_graph"] == (steps != "1")
        histories.append(runs.read_history(run_dir / runs.HISTORY_FILE))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [row[key] for row in histories[0]] == pytest.approx(
            [row[key] for row in histories[1]], rel=1e-5
        )


def test_the_step_groups_cover_every_mini_batch_once():
    from dnn_lab.training.pipeline import StepGroups

    steps = StepGroups(samples=1000, batch_size=32, per_call=10)  # 31 full batches and 8 rows
    assert steps.groups() == [(10, 32)] * 3 + [(1, 32), (1, 8)]
    assert sum(count * rows for count, rows in steps.groups()) == 1000
    assert [steps.batches_done(i) for i in range(5)] == [10, 20, 30, 31, 32]
    assert steps.batches == 32
    one_by_one = StepGroups(samples=1000, batch_size=32, per_call=1)
    assert [one_by_one.batches_done(i) for i in (0, 30, 31)] == [1, 31, 32]


@pytest.mark.parametrize(
    ("full_batches", "step_flops", "expected"),
    [
        (1500, 15.3e6, 125),  # 784-100-10 at batch 32: ~130 steps, 125 divides the epoch
        (44, 9.7e6, 44),  # digits: the whole epoch in one call
        (1499, 15.3e6, 130),  # no divisor near the target: the target, and one more shape
        (1000, 4e9, 1),  # a step heavier than a call's budget runs alone
        (100_000, 1e3, 250),  # tiny steps: at most 256, and 250 divides the epoch
        (100_003, 1e3, 256),
    ],
)
def test_automatic_steps_per_call_follow_the_arithmetic(full_batches, step_flops, expected):
    from dnn_lab.training.pipeline import auto_steps_per_call

    assert auto_steps_per_call(full_batches, step_flops) == expected


def test_progress_and_nan_guard_count_mini_batches_not_calls():
    import io

    from rich.console import Console

    from dnn_lab.training.callbacks import NanGuard, Progress
    from dnn_lab.training.pipeline import StepGroups

    steps = StepGroups(samples=1000, batch_size=32, per_call=10)
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    progress = Progress(console, 1, steps.batches, True, steps.batches_done)
    progress.on_train_begin()
    progress.on_epoch_begin(0)
    progress.on_train_batch_end(3, {"loss": 0.5})  # the fourth call ends mini-batch 31
    (task,) = progress._bar.tasks
    assert (task.completed, task.total) == (31, 32)
    progress.close()

    guard = NanGuard(steps.batches_done)
    model = types.SimpleNamespace(stop_training=False)
    guard.set_model(model)
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(1, {"loss": float("nan")})
    assert guard.where == {"epoch": 1, "batch": 20, "loss": "nan"} and model.stop_training


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_training_state_built_first_means_one_trace_and_the_same_numbers(optimizer):
    """Keras left alone creates the optimizer and metric variables inside the first trace
    of the train step, and TensorFlow then traces it twice; built first, it is traced once
    and the history is Keras's own, to the last digit."""
    import keras
    import numpy as np

    from dnn_lab.training.pipeline import build_training_state

    rng = np.random.default_rng(0)
    x = rng.random((96, 6), dtype=np.float32)
    y = rng.integers(0, 3, 96)
    traces, histories = [], []
    for build_first in (False, True):
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)]
        )
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        if build_first:
            build_training_state(model, x[:2], y[:2])
        traced = []
        step = type(model).train_step

        def counting(self, data, step=step, traced=traced):
            traced.append(1)  # runs only while TensorFlow traces the step
            return step(self, data)

        model.train_step = types.MethodType(counting, model)
        fit = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        traces.append(len(traced))
        histories.append(fit.history)
    assert traces == [2, 1]
    assert histories[0] == histories[1]
