"""See inside training: gradient flow, dead and saturated units, weight statistics.

At the end of every epoch, on one probe batch drawn once with the run's seed, for
every Dense layer: the gradient norm of its kernel and bias for the loss, weight
mean/std/max|w|, how far the weights moved this epoch relative to their size, the
mean and std of its activations, and the share of units that are dead (a ReLU-family
unit whose input is never positive on the probe batch) or saturated (a sigmoid or
tanh unit within 0.01 of its bounds for most of the batch). Rows go to
``diagnostics.csv`` epoch by epoch, so an interrupted run keeps what it measured.

The gradients need the TensorFlow or JAX backend. The measurement runs in inference
mode (dropout off, batch norm on its moving statistics), so it is the same every time
for the same weights. Import only after ``dnn_lab.training.backend.configure``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dnn_lab.config.catalog import RELU_FAMILY
from dnn_lab.errors import ConfigError
from dnn_lab.store import runs
from dnn_lab.training.model import activation_of, layer_outputs

PROBE_SIZE = 256
SATURATION_MARGIN = 0.01
SUPPORTED_BACKENDS = ("tensorflow", "jax")

METRICS = (
    "grad_norm",
    "bias_grad_norm",
    "weight_mean",
    "weight_std",
    "weight_max_abs",
    "update_ratio",
    "activation_mean",
    "activation_std",
    "dead_share",
    "saturated_share",
)


def check_backend(backend: str) -> None:
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"train.diagnostics: gradients are measured on the tensorflow or jax backend; "
            f"this run uses {backend!r} (set backend: tensorflow, or turn diagnostics off)"
        )


def dense_blocks(model: keras.Model) -> list[dict[str, Any]]:
    """For each Dense layer: its index, and the layer whose output is its activation."""
    layers = model.layers
    blocks = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, keras.layers.Dense):
            continue
        activation_at = index
        for later in range(index + 1, len(layers)):
            candidate = layers[later]
            if isinstance(candidate, keras.layers.Dense):
                break
            if activation_of(candidate) is not None:
                activation_at = later
                break
        blocks.append(
            {
                "name": layer.name,
                "dense": index,
                "activation_at": activation_at,
                "activation": activation_of(layers[activation_at]) or "linear",
            }
        )
    return blocks


def probe_batch(x: np.ndarray, y: np.ndarray, seed: int, size: int = PROBE_SIZE):
    rng = np.random.default_rng(seed)
    take = rng.choice(len(x), size=min(size, len(x)), replace=False)
    return x[np.sort(take)], y[np.sort(take)]


class GradientProbe:
    """Per-variable gradient norms of the loss on a fixed batch, compiled once."""

    def __init__(self, model: keras.Model, loss_name: str, backend: str):
        self.model = model
        self.loss = keras.losses.get(loss_name)
        self.backend = backend
        self._compiled = None

    def __call__(self, x, y) -> list[float]:
        if self.backend == "tensorflow":
            return self._tensorflow(x, y)
        return self._jax(x, y)

    def _tensorflow(self, x, y) -> list[float]:
        import tensorflow as tf

        if self._compiled is None:
            variables = self.model.trainable_variables

            @tf.function(reduce_retracing=True)
            def norms(inputs, targets):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(self.loss(targets, self.model(inputs, training=False)))
                grads = tape.gradient(loss, [v.value for v in variables])
                return [tf.norm(g) if g is not None else tf.constant(0.0) for g in grads]

            self._compiled = norms
        return [float(n) for n in self._compiled(tf.constant(x), tf.constant(y))]

    def _jax(self, x, y) -> list[float]:
        import jax
        import jax.numpy as jnp

        model = self.model
        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]
        if self._compiled is None:

            def loss_of(weights, inputs, targets):
                predictions, _ = model.stateless_call(weights, frozen, inputs, training=False)
                return jnp.mean(self.loss(targets, predictions))

            self._compiled = jax.jit(jax.grad(loss_of))
        grads = self._compiled(trainable, jnp.asarray(x), jnp.asarray(y))
        return [float(jnp.linalg.norm(g)) for g in grads]


def measure(model: keras.Model, blocks, probe, gradients: list[float], previous) -> list[dict]:
    """One row per (layer, metric) for the current weights."""
    x, _ = probe
    outputs = [keras.ops.convert_to_numpy(o) for o in layer_outputs(model, x)]
    inputs = [x] + outputs[:-1]
    by_variable = {id(v): n for v, n in zip(model.trainable_variables, gradients, strict=True)}
    rows = []
    for block in blocks:
        layer = model.layers[block["dense"]]
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        values: dict[str, float] = {
            "grad_norm": by_variable.get(id(layer.kernel), 0.0),
            "weight_mean": float(kernel.mean()),
            "weight_std": float(kernel.std()),
            "weight_max_abs": float(np.abs(kernel).max()),
        }
        if layer.use_bias:
            values["bias_grad_norm"] = by_variable.get(id(layer.bias), 0.0)
        before = previous.get(layer.name)
        if before is not None:
            values["update_ratio"] = float(
                np.linalg.norm(kernel - before) / max(np.linalg.norm(before), 1e-12)
            )
        previous[layer.name] = kernel.copy()
        activations = outputs[block["activation_at"]].reshape(len(x), -1)
        values["activation_mean"] = float(activations.mean())
        values["activation_std"] = float(activations.std())
        name = block["activation"]
        if name in RELU_FAMILY:
            flat_in = np.asarray(inputs[block["dense"]]).reshape(len(x), -1)
            pre = flat_in @ kernel + (
                keras.ops.convert_to_numpy(layer.bias) if layer.use_bias else 0.0
            )
            values["dead_share"] = float(np.mean(np.all(pre <= 0.0, axis=0)))
        if name in ("sigmoid", "hard_sigmoid"):
            near = (activations < SATURATION_MARGIN) | (activations > 1 - SATURATION_MARGIN)
            values["saturated_share"] = float(np.mean(near.mean(axis=0) > 0.5))
        elif name in ("tanh", "hard_tanh"):
            near = np.abs(activations) > 1 - SATURATION_MARGIN
            values["saturated_share"] = float(np.mean(near.mean(axis=0) > 0.5))
        rows += [
            {"layer": layer.name, "metric": key, "value": value} for key, value in values.items()
        ]
    return rows


class DiagnosticsRecorder(keras.callbacks.Callback):
    """Measures after every epoch and rewrites ``diagnostics.csv``."""

    def __init__(self, run_dir: Path, x, y, seed: int, loss: str, backend: str):
        super().__init__()
        self.path = Path(run_dir) / runs.DIAGNOSTICS_FILE
        self.probe = probe_batch(x, y, seed)
        self.loss = loss
        self.backend = backend
        self.rows: list[dict[str, Any]] = []
        self._previous: dict[str, np.ndarray] = {}
        self._gradients = None
        self._blocks = None

    def on_train_begin(self, logs=None):
        self._blocks = dense_blocks(self.model)
        self._gradients = GradientProbe(self.model, self.loss, self.backend)
        for block in self._blocks:  # weights before the first epoch, for its update ratio
            layer = self.model.layers[block["dense"]]
            self._previous[layer.name] = keras.ops.convert_to_numpy(layer.kernel).copy()

    def on_epoch_end(self, epoch, logs=None):
        norms = self._gradients(*self.probe)
        for row in measure(self.model, self._blocks, self.probe, norms, self._previous):
            self.rows.append({"epoch": epoch + 1, **row})
        runs.atomic_write_text(self.path, to_csv(self.rows), durable=False)


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", "layer", "metric", "value"])
    for row in rows:
        writer.writerow([row["epoch"], row["layer"], row["metric"], repr(float(row["value"]))])
    return buffer.getvalue()
