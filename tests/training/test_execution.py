"""How a run executes: when XLA compiles, and the reason a run records."""

from __future__ import annotations

import json

import pytest

from dnn_lab.config.loading import validate_config
from dnn_lab.store import runs
from dnn_lab.training.execution import choose_execution, decide_jit
from dnn_lab.training.pipeline import step_flops
from tests.conftest import TINY, merge, train_config

CPU = {"kind": "cpu"}
GPU = {"kind": "gpu"}


def execution_for(device, samples, params, **train):
    config = validate_config(merge(TINY, {"train": {"jit_compile": "auto", **train}}))
    return choose_execution(
        backend="tensorflow",
        device=device,
        train=config.train,
        samples=samples,
        step_flops=step_flops(params, config.train.batch_size),
    )


def test_a_short_run_of_a_small_network_skips_xla():
    # digits, 64-100-10, batch 32, 5 epochs: 225 steps, a fraction of a second of arithmetic
    execution = execution_for(CPU, 1437, 7510, epochs=5, batch_size=32)
    assert execution.jit_compile is False
    assert "225 steps" in execution.jit_reason and "would not pay" in execution.jit_reason


def test_a_long_run_of_a_larger_network_compiles_with_xla():
    # Fashion-MNIST-sized, 784-300-100-10, 30 epochs: minutes of arithmetic
    execution = execution_for(CPU, 48_000, 266_610, epochs=30, batch_size=32)
    assert execution.jit_compile is True
    assert "so it pays" in execution.jit_reason


def test_the_break_even_point_moves_with_the_number_of_epochs():
    decisions = [
        execution_for(CPU, 48_000, 79_510, epochs=epochs, batch_size=32).jit_compile
        for epochs in (1, 2, 5, 10, 20, 50)
    ]
    assert decisions == sorted(decisions), "more epochs never turns XLA off"
    assert decisions[0] is False and decisions[-1] is True


@pytest.mark.parametrize("setting", [True, False])
def test_an_explicit_setting_is_obeyed_and_said(setting):
    execution = execution_for(CPU, 1437, 7510, epochs=5, jit_compile=setting)
    assert execution.jit_compile is setting
    assert execution.jit_reason == f"train.jit_compile: {str(setting).lower()}"


def test_jax_always_compiles_and_torch_does_not():
    assert decide_jit("auto", "jax", "cpu", 10, 1e6)[0] is True
    assert decide_jit("auto", "torch", "cpu", 10**6, 1e9)[0] is False


def test_deterministic_ops_on_a_gpu_turn_xla_off():
    execution = execution_for(GPU, 48_000, 266_610, epochs=100, batch_size=32)
    assert execution.op_determinism is True and execution.jit_compile is False
    assert "deterministic" in execution.jit_reason


def test_a_run_records_its_decision_and_where_its_time_went(tmp_path):
    result = train_config({"train": {"jit_compile": "auto"}}, tmp_path)
    info = json.loads((result.run_dir / runs.RUN_FILE).read_text())
    assert info["execution"]["jit_compile"] is False
    assert info["execution"]["jit_reason"].startswith("auto: ")
    timing = json.loads((result.run_dir / runs.METRICS_FILE).read_text())["timing"]
    phases = ("startup", "data", "framework", "build", "compile", "epochs", "writing")
    assert all(timing[name] >= 0 for name in phases)
    assert timing["total"] >= sum(timing[name] for name in phases)
    assert timing["epochs"] > 0 and timing["writing"] > 0
    from dnn_lab.views import show
    from tests.conftest import quiet_console

    console = quiet_console()
    show.render(show.load(result.run_dir), console)
    printed = console.file.getvalue()
    assert "where the time went (s): startup " in printed and "framework" in printed


def test_a_jax_run_never_loads_tensorflow_and_saves_a_loadable_model(tmp_path):
    pytest.importorskip("jax")
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from tests.conftest import train_config\n"
        "extra = {'backend': 'jax', 'train': {'epochs': 1}}\n"
        f"r = train_config(extra, Path({str(tmp_path)!r}))\n"
        "import keras\n"
        "keras.saving.load_model(r.run_dir / 'model.keras')\n"
        "print(json.dumps([r.status, 'tensorflow' in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["completed", False]


def test_keras_on_jax_loads_the_tpu_attention_kernels_only_when_they_are_used():
    pytest.importorskip("jax")
    import subprocess
    import sys

    code = (
        "import json, os, sys\n"
        "os.environ.update(KERAS_BACKEND='jax', JAX_PLATFORMS='cpu')\n"
        "from dnn_lab.training.backend import import_keras\n"
        "import_keras('jax')\n"
        "from keras.src.backend.jax import nn\n"
        "before = 'jax.experimental.pallas' in sys.modules\n"
        "used = nn.splash_attention_kernel.BlockSizes.__name__\n"  # Keras's reference works
        "import jax.experimental.pallas.ops.tpu.splash_attention as real\n"  # so does an import
        "print(json.dumps([before, used, 'jax.experimental.pallas' in sys.modules,\n"
        "                  real.BlockSizes is nn.splash_attention_kernel.BlockSizes]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, "BlockSizes", True, True]
