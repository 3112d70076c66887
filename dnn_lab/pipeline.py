"""Feeding fit() fast without changing the math.

On TensorFlow, ``model.fit(x, y)`` re-slices the numpy arrays into a dataset every
epoch. Here the arrays become one in-memory tensor each, and every batch is a gather
of 32 shuffled indices from them: the same shuffled mini-batches, a fraction of the
host work. Other backends take the arrays as they are (their trainers are already
fast on them). Import only after ``dnn_lab.backend.configure``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

# Below this much arithmetic per step, splitting each op over threads costs more than it
# saves: one thread per op, and the cores run the input pipeline beside the step instead.
SMALL_STEP_FLOPS = 50e6


def configure_threads(backend: str, params: int, batch_size: int) -> dict[str, Any]:
    """Thread settings for small dense steps on TensorFlow; recorded in run.json."""
    if backend != "tensorflow":
        return {}
    flops = 6.0 * params * batch_size
    if flops >= SMALL_STEP_FLOPS:
        return {"step_mflops": round(flops / 1e6, 1)}
    import tensorflow as tf

    cores = os.cpu_count() or 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(cores)
    except RuntimeError:  # already initialized in this process (a second run in tests)
        return {"step_mflops": round(flops / 1e6, 1), "threads": "unchanged (already set)"}
    return {"step_mflops": round(flops / 1e6, 1), "intra_op_threads": 1, "inter_op_threads": cores}


def training_inputs(backend: str, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """What to pass to fit() as training data: (x, y, fit keyword arguments)."""
    if backend != "tensorflow":
        return x, y, {"batch_size": batch_size, "shuffle": True}
    import tensorflow as tf

    features, labels = tf.constant(x), tf.constant(y)
    count = len(x)
    dataset = (
        tf.data.Dataset.range(count)
        .shuffle(count, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda index: (tf.gather(features, index), tf.gather(labels, index)))
        .prefetch(tf.data.AUTOTUNE)
    )
    return dataset, None, {"shuffle": False}  # the dataset shuffles itself, seeded


def validation_inputs(backend: str, x: np.ndarray | None, y: np.ndarray | None, batch_size: int):
    if x is None:
        return None
    if backend != "tensorflow":
        return (x, y)
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()
