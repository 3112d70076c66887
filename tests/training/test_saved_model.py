"""A run's model.keras loads in a Python that has only Keras, safe mode on (#20)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dnn_lab.config import catalog
from dnn_lab.config.loading import validate_config
from dnn_lab.store import runs
from tests.conftest import TINY, merge, train_config

keras = pytest.importorskip("keras")

# One value per activation parameter the catalog allows, unlike each default.
EXAMPLE = {
    "alpha": 0.5,
    "approximate": True,
    "axis": -1,
    "b": 2.0,
    "default_value": -0.5,
    "max_value": 0.8,
    "negative_slope": 0.1,
    "threshold": 0.3,
}
PARAMETRISED = sorted(name for name, params in catalog.ACTIVATIONS.items() if params)

# Loads every model.keras given, in a fresh Python that imports Keras and nothing of ours,
# and prints each one's layer classes and its largest difference from the expected output.
LOADER = """
import json, sys
import numpy as np
import keras
found = {}
for path in sys.argv[1:]:
    model = keras.saving.load_model(path)  # safe_mode=True is the default
    data = np.load(path + ".npz")
    out = model.predict(data["x"], verbose=0)
    found[path] = {
        "classes": sorted({type(layer).__module__.split(".")[0] for layer in model.layers}),
        "difference": float(np.max(np.abs(out - data["y"]))),
    }
assert "dnn_lab" not in sys.modules, "dnn_lab was imported"
print(json.dumps(found))
"""


def build(extra: dict):
    from dnn_lab.config.head import resolve_head
    from dnn_lab.training.model import build_model

    config = validate_config(merge(TINY, extra))
    return build_model(config, (8, 8), resolve_head(config, "multiclass", 10))


def saved(model, path, x) -> str:
    model.save(path)
    np.savez(str(path) + ".npz", x=x, y=model.predict(x, verbose=0))
    return str(path)


def load_in_fresh_python(paths: list[str], cwd) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, "-c", LOADER, *paths],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def alone(spec: dict):
    """A model of the activation layer alone (glu halves its input: no Dense may follow)."""
    from dnn_lab.training.model import activation_layer

    return keras.Sequential([keras.Input((6,)), activation_layer(spec, "act")])


def test_every_parametrised_activation_loads_without_dnn_lab(tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    paths = []
    for name in PARAMETRISED:
        spec = {"name": name, **{p: EXAMPLE[p] for p in catalog.ACTIVATIONS[name]}}
        paths.append(saved(alone(spec), tmp_path / f"{name}.keras", x))
    # Keras's layer refuses a negative slope; the function takes it
    spec = {"name": "leaky_relu", "negative_slope": -0.1}
    paths.append(saved(alone(spec), tmp_path / "negative.keras", x))
    # whole networks, as runs save them
    x = np.random.default_rng(1).normal(size=(5, 8, 8)).astype("float32")
    spec = {"name": "leaky_relu", "negative_slope": 0.2}
    hidden = build({"model": {"activation": spec, "batch_norm": "before"}})
    paths.append(saved(hidden, tmp_path / "hidden.keras", x))
    spec = {"name": "softmax", "axis": -1}
    output = build({"model": {"output_activation": spec}})
    paths.append(saved(output, tmp_path / "output.keras", x))
    result = train_config({"model": {"activation": {"name": "elu", "alpha": 0.3}}}, tmp_path)
    model_file = result.run_dir / runs.MODEL_FILE
    np.savez(
        str(model_file) + ".npz",
        x=x,
        y=keras.saving.load_model(model_file).predict(x, verbose=0),
    )
    paths.append(str(model_file))

    found = load_in_fresh_python(paths, tmp_path)
    for path in paths:
        assert found[path]["classes"] == ["keras"], (path, found[path])
        assert found[path]["difference"] < 1e-6, (path, found[path])


@pytest.mark.parametrize("name", PARAMETRISED)
def test_the_layer_applies_the_activation_with_its_parameters(name):
    from dnn_lab.training.model import activation_layer, activation_of

    params = {p: EXAMPLE[p] for p in catalog.ACTIVATIONS[name]}
    layer = activation_layer({"name": name, **params}, "act")
    x = np.linspace(-2, 2, 12, dtype="float32").reshape(2, 6)
    expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(x, **params))
    got = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert activation_of(layer) == name
    clone = type(layer).from_config(layer.get_config())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone(x)), expected, atol=1e-6)
