"""A 12-trial study as an in-process loop of plain Keras fits, the way a tuner runs them.

    python benchmarks/plain_loop.py

Optimizer sgd/adam x activation relu/tanh x seeds 42, 43, 44, on digits (split as in
plain_script.py), 5 epochs each, ``keras.backend.clear_session()`` between fits; prints
each trial's final validation accuracy. Timed from outside, whole process.
"""

import itertools
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

digits = load_digits()
x = digits.images.astype("float32") / 16.0
results = []
for optimizer, activation, seed in itertools.product(
    ("sgd", "adam"), ("relu", "tanh"), (42, 43, 44)
):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    model = keras.Sequential(
        [
            keras.Input((8, 8)),
            keras.layers.Flatten(),
            keras.layers.Dense(100, activation=activation),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=5, validation_data=(x_val, y_val), verbose=0
    )
    results.append(history.history["val_accuracy"][-1])
print(json.dumps({"val_accuracy": results}))
