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
from dnn_lab.store import runs


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
    """Copy weights of the first K hidden blocks from ``spec.run`` into ``model``.

    ``layers: auto`` takes the leading blocks whose weights fit and stops at the first that
    does not (a later block's input would no longer be what it learned on).
    """
    source = load_source(spec.run)
    available = _hidden_count(source)
    auto = spec.layers == "auto"
    wanted = spec.layers if isinstance(spec.layers, int) else min(available, _hidden_count(model))
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
    copied, reused = [], 0
    for index in range(1, wanted + 1):
        block = []
        for prefix in ("hidden_", "bn_"):
            name = f"{prefix}{index}"
            target = _layer(model, name)
            origin = source_layers.get(name)
            if target is None and origin is None:
                continue
            problem = None
            if target is None or origin is None:
                problem = (
                    f"model.init_from: {name} exists in only one of the two models; batch norm "
                    "must match between the source run and this config"
                )
            else:
                shapes_theirs = [w.shape for w in origin.get_weights()]
                shapes_ours = [w.shape for w in target.get_weights()]
                if shapes_theirs != shapes_ours:
                    problem = (
                        f"model.init_from: {name} has weights {shapes_theirs} in {spec.run} but "
                        f"{shapes_ours} here; the reused layers need the same input and widths"
                    )
            if problem is not None and not auto:
                raise ConfigError(problem)
            block.append((name, target, origin, problem))
        problems = [problem for *_, problem in block if problem]
        if problems:  # auto: the first block that does not fit ends the reuse
            if not copied:
                raise ConfigError(f"{problems[0]} (no hidden layer of the source run fits)")
            break
        for name, target, origin, _ in block:
            target.set_weights(origin.get_weights())
            target.trainable = spec.trainable
            copied.append(name)
        reused += 1
    record = {"run": str(spec.run), "layers": reused, "trainable": spec.trainable}
    if auto:
        record["requested"] = "auto"
    return {**record, "copied": copied}


def _layer(model: keras.Model, name: str):
    return next((layer for layer in model.layers if layer.name == name), None)
