"""The baseline: a plain Keras script, as the notes write it, with no dnn-lab.

    python benchmarks/plain_keras.py digits|PATH.npz EPOCHS UNITS[,UNITS...]

Same data, split (0.2, random_state=42), scaling, model, Adam, batch size 32 and seed as
the dnn-lab configs it is compared with; validation at Keras's default batch size. Prints
per-epoch seconds and the final validation accuracy as JSON.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from common import load  # noqa: E402

source = sys.argv[1] if len(sys.argv) > 1 else "digits"
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
units = [int(u) for u in (sys.argv[3] if len(sys.argv) > 3 else "100").split(",")]

keras.utils.set_random_seed(42)
(x_train, y_train), (x_val, y_val) = load(source)
model = keras.Sequential(
    [keras.Input(x_train.shape[1:]), keras.layers.Flatten()]
    + [keras.layers.Dense(u, activation="relu") for u in units]
    + [keras.layers.Dense(10, activation="softmax")]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
seconds: list[float] = []


class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds.append(time.perf_counter() - self.start)


history = model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=epochs,
    validation_data=(x_val, y_val),
    callbacks=[Timer()],
    verbose=0,
)
print(json.dumps({"seconds": seconds, "val_accuracy": history.history["val_accuracy"][-1]}))
