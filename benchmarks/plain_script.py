"""The job `dnn-lab train configs/adam_relu.yaml` does, as a plain Keras script would do it.

    python benchmarks/plain_script.py OUT_DIR

Digits, the same stratified split (0.2, random_state=42), pixels scaled by 16, Flatten,
Dense(100, relu), softmax output, Adam, batch 32, 5 epochs with validation every epoch;
then the model is saved, as a run directory keeps it. Timed from outside, whole process.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "."
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
history = model.fit(
    x_train, y_train, batch_size=32, epochs=5, validation_data=(x_val, y_val), verbose=0
)
model.save(os.path.join(out, "model.keras"))
print(json.dumps({"val_accuracy": history.history["val_accuracy"][-1]}))
