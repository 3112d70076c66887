"""Transfer learning: start from an earlier run's first hidden layers, frozen or not.

The output layer is always new (the task may differ); hidden blocks are matched
by name (``hidden_1``, ``bn_1``...), which both runs share because dnn-lab built
them. Import only after ``dnn_lab.training.backend.configure``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from dnn_lab.config.schema import InitFromConfig
from dnn_lab.errors import ConfigError
from dnn_lab.results import rundir as runs


def _hidden_count(model: keras.Model) -> int:
    return sum(1 for layer in model.layers if layer.name.startswith("hidden_"))


def load_source(run: str) -> keras.Model:
    if not (Path(run) / runs.RUN_FILE).is_file():
        raise ConfigError(
            f"model.init_from.run: {run} is not a dnn-lab run directory (no {runs.RUN_FILE})"
        )
    path = Path(run) / runs.MODEL_FILE
    if not path.is_file():
        raise ConfigError(
            f"model.init_from.run: {run} has no {runs.MODEL_FILE}; name a completed run directory"
        )
    try:
        # safe_mode refuses lambdas and other code hidden in a model file
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ConfigError(f"model.init_from.run: cannot load {path}: {exc}") from None


def apply_init_from(model: keras.Model, spec: InitFromConfig) -> dict[str, Any]:
    """Copy weights of the first K hidden blocks from ``spec.run`` into ``model``."""
    source = load_source(spec.run)
    available = _hidden_count(source)
    wanted = spec.layers if spec.layers is not None else min(available, _hidden_count(model))
    if wanted > available:
        raise ConfigError(
            f"model.init_from.layers: {wanted} requested, but {spec.run} has "
            f"{available} hidden layers"
        )
    if wanted > _hidden_count(model):
        raise ConfigError(
            f"model.init_from.layers: {wanted} requested, but this model has "
            f"{_hidden_count(model)} hidden layers"
        )
    source_layers = {layer.name: layer for layer in source.layers}
    copied = []
    for index in range(1, wanted + 1):
        for prefix in ("hidden_", "bn_"):
            name = f"{prefix}{index}"
            target = _layer(model, name)
            origin = source_layers.get(name)
            if target is None and origin is None:
                continue
            if target is None or origin is None:
                raise ConfigError(
                    f"model.init_from: {name} exists in only one of the two models; batch norm "
                    "must match between the source run and this config"
                )
            theirs, ours = origin.get_weights(), target.get_weights()
            shapes_theirs = [w.shape for w in theirs]
            shapes_ours = [w.shape for w in ours]
            if shapes_theirs != shapes_ours:
                raise ConfigError(
                    f"model.init_from: {name} has weights {shapes_theirs} in {spec.run} but "
                    f"{shapes_ours} here; the reused layers need the same input and widths"
                )
            target.set_weights(theirs)
            target.trainable = spec.trainable
            copied.append(name)
    return {"run": str(spec.run), "layers": wanted, "trainable": spec.trainable, "copied": copied}


def _layer(model: keras.Model, name: str):
    return next((layer for layer in model.layers if layer.name == name), None)
