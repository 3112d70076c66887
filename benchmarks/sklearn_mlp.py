"""scikit-learn's MLPClassifier with Adam and the same hidden layers, one epoch per partial_fit.

python benchmarks/sklearn_mlp.py digits|PATH.npz EPOCHS UNITS[,UNITS...]
"""

import json
import sys
import time

import numpy as np
from common import load
from sklearn.neural_network import MLPClassifier

source = sys.argv[1] if len(sys.argv) > 1 else "digits"
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
units = tuple(int(u) for u in (sys.argv[3] if len(sys.argv) > 3 else "100").split(","))

(x_train, y_train), (x_val, y_val) = load(source)
x_train, x_val = x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1)
model = MLPClassifier(
    hidden_layer_sizes=units, solver="adam", batch_size=32, learning_rate_init=1e-3, random_state=42
)
seconds, accuracy = [], 0.0
for _ in range(epochs):
    start = time.perf_counter()
    model.partial_fit(x_train, y_train, classes=np.arange(10))
    accuracy = float((model.predict(x_val) == y_val).mean())
    seconds.append(time.perf_counter() - start)
print(json.dumps({"seconds": seconds, "val_accuracy": accuracy}))
