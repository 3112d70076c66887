"""Feeding fit() fast without changing the math.

A plain ``model.fit(x, y, batch_size=32)`` spends most of a small step outside the
arithmetic: slicing numpy arrays, dispatching one compiled call per mini-batch. Here an
epoch's shuffled mini-batches are stacked into groups (``[batches, batch_size, ...]``)
and one compiled call runs a loop of ordinary optimizer steps over a group, inside the
graph (``tf.while_loop`` on TensorFlow, ``jax.lax.scan`` on JAX). Each step sees the
same mini-batch, updates the same weights, optimizer and metric state as it would one
call at a time; only the dispatch is gone. Import only after ``dnn_lab.training.backend.configure``.
"""

from __future__ import annotations

import itertools
import math
import os
import types
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

# Below this much arithmetic per step, when Keras calls the step once per mini-batch,
# splitting each op over threads costs more than it saves: one thread per op, and the
# cores run the input pipeline beside the step instead.
SMALL_STEP_FLOPS = 50e6
# Work per compiled call when steps_per_execution is auto: enough steps that dispatch
# is negligible, few enough that Ctrl-C, a NaN loss and the progress bar are noticed
# within a few hundredths of a second on a CPU.
CALL_FLOPS = 2e9
MAX_STEPS_PER_CALL = 256


def auto_steps_per_call(full_batches: int, step_flops: float) -> int:
    """Steps per call for ``steps_per_execution: auto``.

    About ``CALL_FLOPS`` of arithmetic per call. Every distinct group shape is compiled
    once, so a count that divides the epoch's full mini-batches evenly is preferred: one
    shape for the groups, one for a short last batch.
    """
    target = int(min(MAX_STEPS_PER_CALL, max(1, CALL_FLOPS // max(step_flops, 1.0))))
    if full_batches <= 2 * target:
        return max(1, full_batches)
    top = min(2 * target, MAX_STEPS_PER_CALL)
    near = [d for d in range(max(1, target // 2), top + 1) if full_batches % d == 0]
    if near:
        return min(near, key=lambda d: (abs(d - target), -d))
    return target


@dataclass(frozen=True)
class StepGroups:
    """How one epoch's mini-batches are grouped into calls of the compiled step."""

    samples: int
    batch_size: int
    per_call: int  # optimizer steps per call; 1 means one mini-batch per call

    @property
    def full_batches(self) -> int:
        return self.samples // self.batch_size

    @property
    def last_batch(self) -> int:
        """Rows in the short last mini-batch, 0 when the batch size divides the data."""
        return self.samples % self.batch_size

    @property
    def batches(self) -> int:
        return math.ceil(self.samples / self.batch_size)

    def groups(self) -> list[tuple[int, int]]:
        """(mini-batches, rows each) per call, in epoch order."""
        whole, rest = divmod(self.full_batches, self.per_call)
        groups = [(self.per_call, self.batch_size)] * whole
        if rest:
            groups.append((rest, self.batch_size))
        if self.last_batch:
            groups.append((1, self.last_batch))
        return groups

    def batches_done(self, call_index: int) -> int:
        """Mini-batches finished once call ``call_index`` (0-based) has returned."""
        whole = self.full_batches // self.per_call
        if call_index < whole:
            return (call_index + 1) * self.per_call
        if call_index == whole and self.full_batches % self.per_call:
            return self.full_batches
        return self.batches


def dense_params(config, data) -> int:
    """Parameters of the Dense layers, known before the model exists (threads are set first)."""
    from dnn_lab.data.memory import dense_parameters

    units = [layer.units for layer in config.model.hidden_specs()]
    return dense_parameters(data.input_shape, units, data.task, data.n_classes)


def step_flops(params: int, batch_size: int) -> float:
    """Arithmetic of one training step of a dense network: forward, backward, update."""
    return 6.0 * params * batch_size


def configure_threads(backend: str, flops: float, steps_in_graph: bool) -> dict[str, Any]:
    """Thread settings for small dense steps on TensorFlow; recorded in run.json.

    With the steps looping inside the graph the input pipeline runs once per group, and
    every core is better spent on the arithmetic (measured: 0.32 against 0.39 s per
    epoch for 784-100-10 on two cores), so TensorFlow keeps its defaults.
    """
    if backend != "tensorflow":
        return {}
    from dnn_lab.training.backend import thread_limit

    limit = thread_limit()
    if limit is not None:  # a sweep worker's share of the cores, set when Keras was loaded
        return {
            "step_mflops": round(flops / 1e6, 1),
            "intra_op_threads": limit,
            "inter_op_threads": limit,
        }
    if flops >= SMALL_STEP_FLOPS or steps_in_graph:
        return {"step_mflops": round(flops / 1e6, 1)}
    import tensorflow as tf

    cores = os.cpu_count() or 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(cores)
    except RuntimeError:  # already initialized in this process (a second run in tests)
        return {"step_mflops": round(flops / 1e6, 1), "threads": "unchanged (already set)"}
    return {"step_mflops": round(flops / 1e6, 1), "intra_op_threads": 1, "inter_op_threads": cores}


def training_inputs(backend: str, x: np.ndarray, y: np.ndarray, steps: StepGroups, seed: int):
    """What to pass to fit() as training data: (x, y, fit keyword arguments).

    With ``steps.per_call > 1`` each element is a group of mini-batches, for a model
    whose step was replaced by ``run_steps_in_graph``. TensorFlow reads a ``tf.data``
    pipeline; other backends a numpy one with the same grouping.
    """
    if backend == "tensorflow":
        # Repeated, with the epoch's length given: Keras then keeps one iterator for the
        # whole run instead of building a pipeline every epoch (milliseconds each).
        dataset = _tf_dataset(x, y, steps, seed).repeat()
        return dataset, None, {"shuffle": False, "steps_per_epoch": len(steps.groups())}
    return ShuffledBatches(x, y, steps, seed), None, {"shuffle": False}


def _tf_dataset(x: np.ndarray, y: np.ndarray, steps: StepGroups, seed: int):
    """The arrays as one in-memory tensor each; every element is a gather of shuffled rows."""
    import tensorflow as tf

    features, labels = tf.constant(x), tf.constant(y)
    order = tf.data.Dataset.range(steps.samples).shuffle(
        steps.samples, seed=seed, reshuffle_each_iteration=True
    )
    if steps.per_call == 1:
        indices = order.batch(steps.batch_size)
    else:
        groups = steps.groups()

        @tf.autograph.experimental.do_not_convert
        def split(permutation):
            pieces, start = [], 0
            for (count, rows), same in itertools.groupby(groups):
                calls = len(list(same))
                stop = start + calls * count * rows
                block = tf.reshape(permutation[start:stop], [calls, count, rows])
                pieces.append(tf.data.Dataset.from_tensor_slices(block))
                start = stop
            dataset = pieces[0]
            for piece in pieces[1:]:
                dataset = dataset.concatenate(piece)
            return dataset

        indices = (
            order.batch(steps.samples)
            .flat_map(split)
            .apply(tf.data.experimental.assert_cardinality(len(groups)))
        )

    @tf.autograph.experimental.do_not_convert
    def gather(index):
        return tf.gather(features, index), tf.gather(labels, index)

    return indices.map(gather).prefetch(tf.data.AUTOTUNE)


def validation_inputs(backend: str, x: np.ndarray | None, y: np.ndarray | None, batch_size: int):
    """Validation data as fit() keyword arguments, in large batches.

    Keras builds a new iterator over it every epoch; the plainest pipeline is the cheapest
    to build and tear down (about 1 ms, against 4-6 ms with ``cache()`` or ``repeat()``).
    """
    if x is None:
        return {}
    if backend != "tensorflow":
        return {"validation_data": (x, y), "validation_batch_size": batch_size}
    import tensorflow as tf

    return {"validation_data": tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)}


class ShuffledBatches(keras.utils.PyDataset):
    """Shuffled mini-batches, or groups of them, from numpy arrays (no TensorFlow needed).

    Epoch ``e`` is shuffled by ``default_rng([seed, e])``, so a run repeats exactly, and
    grouped or not, the steps see the same mini-batches.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, steps: StepGroups, seed: int):
        super().__init__()
        self.x, self.y, self.steps, self.seed = x, y, steps, seed
        self.epoch = 0
        self._groups = steps.groups()
        self._starts = np.cumsum([0] + [count * rows for count, rows in self._groups])
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.steps.samples)

    def __len__(self) -> int:
        return len(self._groups)

    def __getitem__(self, index: int):
        count, rows = self._groups[index]
        rows_of = self._order[self._starts[index] : self._starts[index + 1]]
        shape = (count, rows) if self.steps.per_call > 1 else (rows,)
        return (
            self.x[rows_of].reshape(shape + self.x.shape[1:]),
            self.y[rows_of].reshape(shape + self.y.shape[1:]),
        )

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._permutation()


def build_training_state(model, x: np.ndarray, y: np.ndarray) -> None:
    """Create the loss, metric and optimizer variables before the first step is traced.

    Left to fit(), TensorFlow creates them while it traces the train step, and a
    ``tf.function`` that creates variables is traced twice (about 0.4 s for Adam); on JAX
    the eager calls would compile each op. Only shapes are used (``compute_output_spec``,
    as Keras does before a distributed fit), and the variables get the values fit() would
    give them, so the run's numbers do not change.
    """
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is not None:
        symbolic_build(data_batch=(x, y))
    else:  # a Keras without it: build by one eager call on the rows
        y_pred = model(x, training=False)
        model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
        model.compute_metrics(x, y, y_pred)
        model.reset_metrics()
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def run_steps_in_graph(model, backend: str) -> None:
    """Make ``model.fit`` take groups of mini-batches and loop over them in one call.

    Only this model object's step changes; its class, and so the saved model, is a
    plain ``keras.Sequential``. Call ``build_training_state`` first: fit() would build
    the loss and metrics from its first element, a group, which has an extra axis.
    """
    single_step = type(model).train_step
    if backend == "tensorflow":
        import tensorflow as tf

        def grouped_step(self, data):
            xs, ys = data[0], data[1]

            def body(index):
                single_step(self, (xs[index], ys[index]))
                return (index + 1,)

            tf.while_loop(lambda index: index < tf.shape(xs)[0], body, (tf.constant(0),))
            return self.get_metrics_result()

    elif backend == "jax":
        import jax

        def grouped_step(self, state, data):
            def body(carry, batch):
                logs, carry = single_step(self, carry, batch)
                return carry, logs

            state, logs = jax.lax.scan(body, state, (data[0], data[1]))
            return jax.tree_util.tree_map(lambda value: value[-1], logs), state

    else:
        raise ValueError(f"steps in the graph need tensorflow or jax; received {backend!r}")
    model.train_step = types.MethodType(grouped_step, model)
