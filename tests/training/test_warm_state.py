"""Between two runs in one process: Keras's state as a new process has it, the compiled
step's kernels kept (``warm_model.fresh_keras_state``, ``backend.seed_everything``)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import json, keras, numpy as np, random, tensorflow as tf
from dnn_lab.training.backend import seed_everything
from dnn_lab.training.warm_model import fresh_keras_state

def draws():
    # what a run draws: Python's and NumPy's generators, Keras's global seed generator
    # (initializers, dropout), and a seeded tf.data shuffle; not TensorFlow's own stateful
    # random ops, which keep their state in the kernel cache and which Keras never uses
    ones = np.ones((4, 4), "float32")
    return [
        random.random(),
        float(np.random.rand()),
        float(keras.random.uniform([], seed=None)),
        keras.ops.convert_to_numpy(keras.initializers.GlorotUniform()((3, 3))).tolist(),
        keras.ops.convert_to_numpy(keras.layers.Dropout(0.5)(ones, training=True)).tolist(),
        int(tf.data.Dataset.range(100).shuffle(100, seed=3).take(1).get_single_element()),
    ]

keras.utils.set_random_seed(7)
expected = draws()
stateful = float(tf.random.uniform([]))  # its generator lives in the cached kernel
names = [keras.layers.Dense(2).name for _ in range(2)]
seed_everything(11, "tensorflow")
draws()
fresh_keras_state()
seed_everything(7, "tensorflow")
again = draws()
kept = float(tf.random.uniform([])) != stateful  # the same kernel, drawing on
print(json.dumps({"same": again == expected, "expected": expected, "again": again,
                  "names": names, "after": keras.layers.Dense(2).name, "kept": kept}))
"""


def test_seeding_again_in_one_process_draws_what_a_new_process_draws():
    done = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300, check=True
    )
    import json

    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["same"], found
    assert found["names"] == ["dense", "dense_1"] and found["after"] == "dense"
    # the kernel cache survived (a compiled step is not instantiated again): a stateful
    # TensorFlow op, seeded the same, drew on from where it was instead of starting over
    assert found["kept"]
