"""The baseline: the notes' model as a plain Keras script, no dnn-lab.

Same data, split, scaling, model, optimizer, batch size and seed as
configs/adam_relu.yaml; prints per-epoch seconds and the final validation
accuracy as JSON for benchmarks/run.py.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
keras.utils.set_random_seed(42)
digits = load_digits()
x = digits.images.astype("float32") / 16.0
x_train, x_val, y_train, y_val = train_test_split(
    x, digits.target, test_size=0.2, random_state=42, stratify=digits.target
)
model = keras.Sequential(
    [
        keras.Input((8, 8)),
        keras.layers.Flatten(),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds.append(time.perf_counter() - self.start)


seconds: list[float] = []
history = model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=epochs,
    validation_data=(x_val, y_val),
    callbacks=[Timer()],
    verbose=0,
)
print(
    json.dumps(
        {
            "seconds": seconds,
            "val_accuracy": history.history["val_accuracy"][-1],
            "peak_rss_mb": None,
        }
    )
)
np.random.seed(0)
