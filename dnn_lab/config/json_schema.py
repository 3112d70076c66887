"""A JSON Schema of the config, generated from the pydantic models that validate configs.

Editors read it (``# yaml-language-server: $schema=...`` at the top of a config) to
complete keys, show each key's description and default, and flag typos as you type.
It is generated, never written by hand: pydantic gives the structure, types, ranges,
defaults and the ``Literal`` choices; this module adds what pydantic cannot see, the
descriptions of the keys and the Keras names that the validators accept (activations,
initializers, optimizers, losses, metrics, datasets), all from the same tables the
validators use. No Keras is imported.

The output uses only draft-07 keywords, which every YAML language server understands:
the models are inlined, and only the three name tables (activation, initializer,
optimizer), used by several keys, are ``definitions`` that those keys refer to.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from dnn_lab.config import catalog
from dnn_lab.config.datasets import DATASETS

# The one import of the models; dnn_lab.config.schema exposes Config whatever its layout.
from dnn_lab.config.schema import Config

DRAFT = "http://json-schema.org/draft-07/schema#"
SCHEMA_FILE = "dnn-lab.schema.json"  # configs/dnn-lab.schema.json, committed beside the configs

# What each key means, by (model class, field); a pydantic ``Field(description=...)`` wins.
# tests/config/test_json_schema.py checks that every field has one and none is stale.
DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("Config", "name"): "Run name; the run directory is runs/<date>-<name>. "
    "Default: the config file's name.",
    ("Config", "seed"): "Seed for weights, shuffling, dropout and the data split.",
    ("Config", "backend"): "Keras backend (jax and torch need their extras).",
    ("Config", "device"): "auto: the GPU when the backend sees one; cpu or gpu to choose.",
    ("Config", "devices"): "one GPU, or all: data-parallel training over every visible GPU.",
    ("Config", "data"): "Where the data comes from and how it is split and scaled.",
    ("Config", "model"): "The dense network; the output layer follows the task.",
    ("Config", "train"): "Optimizer, loss, batches, epochs and callbacks.",
    ("Config", "sweep"): "Axes for `dnn-lab sweep`; a single `dnn-lab train` ignores it.",
    ("DataConfig", "dataset"): "A built-in dataset (see `dnn-lab datasets`), or csv / "
    "parquet / npz with data.path (a path ending in .parquet is parquet).",
    ("DataConfig", "path"): "The file for csv / parquet / npz; a directory of IDX files for "
    "fashion_mnist / mnist. A run records it as an absolute path.",
    ("DataConfig", "path_bytes"): "data.path's size as a run read it (written by the run); "
    "a changed file is refused. null: not checked.",
    ("DataConfig", "path_sha256"): "data.path's SHA-256 as a run read it (written by the "
    "run); a changed file is refused. null: not checked.",
    ("DataConfig", "target"): "csv, parquet: the label column.",
    ("DataConfig", "task"): "auto: from the dataset or the labels.",
    ("DataConfig", "one_hot"): "One-hot labels, for categorical_crossentropy.",
    ("DataConfig", "categorical"): "csv, parquet: text columns to one-hot encode; auto: "
    "every text column (dates and IDs are left out with a note).",
    ("DataConfig", "missing"): "csv, parquet: an empty or NA feature cell is an error, "
    "drops its row, or is imputed (median, or most frequent value, of the training split).",
    ("DataConfig", "validation_split"): "Share of the training data held out for validation "
    "(stratified for classification).",
    ("DataConfig", "test_split"): "Share held out as a test set; null: the dataset's own "
    "test set, if any.",
    ("DataConfig", "split_seed"): "Seed of the splits; null: the run's seed.",
    ("DataConfig", "scaling"): "pixels, standard, minmax or none; auto suits the dataset.",
    ("DataConfig", "max_samples"): "Keep the first N training samples, for quick tries.",
    ("LayerConfig", "units"): "Width of this hidden layer.",
    ("LayerConfig", "activation"): "This layer's activation; unset: model.activation.",
    ("LayerConfig", "initializer"): "This layer's kernel initializer; unset: model.initializer.",
    ("LayerConfig", "bias_initializer"): "This layer's bias initializer; unset: "
    "model.bias_initializer.",
    ("LayerConfig", "dropout"): "Dropout rate after this layer; unset: model.dropout.",
    ("LayerConfig", "batch_norm"): "Batch normalization relative to the activation; unset: "
    "model.batch_norm.",
    ("LayerConfig", "l1"): "L1 penalty on this layer's kernel; unset: model.l1.",
    ("LayerConfig", "l2"): "L2 penalty on this layer's kernel; unset: model.l2.",
    ("LayerConfig", "max_norm"): "Max-norm constraint on each unit's incoming weights; "
    "unset: model.max_norm.",
    ("InitFromConfig", "run"): "The earlier run directory whose layers are reused.",
    ("InitFromConfig", "layers"): "How many of its first hidden layers; null: all that fit.",
    ("InitFromConfig", "trainable"): "false freezes the reused layers.",
    ("ModelConfig", "hidden_layers"): "How many hidden Dense layers (a list in units or "
    "layers sets it).",
    ("ModelConfig", "units"): "One width for every hidden layer, or one per layer: [300, 100].",
    ("ModelConfig", "activation"): "Any Keras activation, by name or {name: leaky_relu, "
    "negative_slope: 0.1}.",
    ("ModelConfig", "initializer"): "Any Keras kernel initializer, by name or {name: "
    "random_normal, stddev: 0.05}.",
    ("ModelConfig", "bias_initializer"): "Any Keras initializer for the biases.",
    ("ModelConfig", "dropout"): "Dropout rate after every hidden layer.",
    ("ModelConfig", "dropout_kind"): "alpha keeps SELU self-normalizing.",
    ("ModelConfig", "batch_norm"): "Batch normalization before or after the activation "
    "(before: Dense drops its bias).",
    ("ModelConfig", "l1"): "L1 penalty on the kernels.",
    ("ModelConfig", "l2"): "L2 penalty on the kernels.",
    ("ModelConfig", "max_norm"): "Max-norm constraint on each unit's incoming weights.",
    ("ModelConfig", "layers"): "One entry per hidden layer; unset keys take the model-wide values.",
    ("ModelConfig", "output_activation"): "auto: sigmoid, softmax or linear, from the task.",
    ("ModelConfig", "init_from"): "Transfer learning: start from an earlier run's layers.",
    ("ScheduleConfig", "kind"): "The learning-rate schedule; the optimizer's learning_rate "
    "is its start.",
    ("ScheduleConfig", "decay_rate"): "exponential / inverse_time: the factor per decay_epochs.",
    ("ScheduleConfig", "decay_epochs"): "exponential, inverse_time, power, cosine: the decay's "
    "length in epochs.",
    ("ScheduleConfig", "staircase"): "Decay in whole steps of decay_epochs.",
    ("ScheduleConfig", "boundaries"): "piecewise: the epochs where the next value starts.",
    ("ScheduleConfig", "values"): "piecewise: one more learning rate than boundaries.",
    ("ScheduleConfig", "power"): "power: lr / (1 + epoch / decay_epochs) ** power.",
    ("ScheduleConfig", "alpha"): "cosine: decays to alpha * learning_rate.",
    ("ScheduleConfig", "warmup_epochs"): "cosine: linear warm-up epochs first.",
    ("ScheduleConfig", "factor"): "plateau: multiply the rate by this when stuck.",
    ("ScheduleConfig", "patience"): "plateau: epochs without improvement before that.",
    ("ScheduleConfig", "monitor"): "plateau: the metric watched; auto: val_loss, or loss "
    "without validation.",
    ("ScheduleConfig", "min_lr"): "plateau: the rate never goes below this.",
    ("EarlyStoppingConfig", "monitor"): "The metric watched; auto: the task's validation metric.",
    ("EarlyStoppingConfig", "patience"): "Epochs without improvement before stopping.",
    ("EarlyStoppingConfig", "min_delta"): "The least change that counts as improvement.",
    ("EarlyStoppingConfig", "restore_best_weights"): "Keep the best epoch's weights.",
    ("MCDropoutConfig", "samples"): "Stochastic predictions averaged with dropout on.",
    ("TrainConfig", "optimizer"): "A Keras optimizer by name, or {name: sgd, learning_rate: "
    "0.1, momentum: 0.9}.",
    ("TrainConfig", "loss"): "auto: follows the task and label format.",
    ("TrainConfig", "metrics"): "auto: accuracy for classification, mae for regression.",
    ("TrainConfig", "batch_size"): "Samples per optimizer step.",
    ("TrainConfig", "epochs"): "Passes over the training data.",
    ("TrainConfig", "schedule"): "A learning-rate schedule.",
    ("TrainConfig", "early_stopping"): "Stop when the monitored metric stops improving.",
    ("TrainConfig", "checkpoint"): "Save the best epoch's weights as they happen "
    "(best.weights.h5).",
    ("TrainConfig", "mc_dropout"): "Evaluate with dropout on, averaged over samples.",
    ("TrainConfig", "tensorboard"): "Write TensorBoard logs into the run directory.",
    ("TrainConfig", "diagnostics"): "Gradient norms, dead and saturated units per layer and epoch.",
    ("TrainConfig", "steps_per_execution"): "Optimizer steps per compiled call; auto: about "
    "2 GFLOP each.",
    ("TrainConfig", "jit_compile"): "XLA; auto: on unless deterministic ops forbid it.",
    ("TrainConfig", "deterministic"): "TensorFlow's op determinism; auto: on GPUs.",
    ("TrainConfig", "precision"): "Mixed precision on a GPU; the output layer stays float32.",
    ("SweepConfig", "grid"): "Axes: a dotted key and its values, e.g. "
    "model.activation: [relu, tanh].",
    ("SweepConfig", "space"): "random / optuna: a dotted key and one of {uniform: [a, b]}, "
    "{loguniform: [a, b]}, {int: [a, b]}, {choice: [...]}.",
    ("SweepConfig", "search"): "grid: every combination; random: seeded draws; optuna: TPE; "
    "hyperband: successive halving over epochs.",
    ("SweepConfig", "trials"): "random / optuna / hyperband: how many settings.",
    ("SweepConfig", "repeats"): "Seeds per setting: seed, seed+1, ...",
    (
        "SweepConfig",
        "workers",
    ): "Trials at a time, each in a warm worker; null: one per CPU core, or one per GPU.",
    ("SweepConfig", "prune"): "optuna: stop trials that trail the others.",
    ("SweepConfig", "min_epochs"): "hyperband: epochs of the first rung.",
    ("SweepConfig", "eta"): "hyperband: 1/eta of the settings go on at each rung.",
    ("SweepConfig", "objectives"): "optuna: the metric then costs (params, "
    "seconds_per_epoch): a multi-objective study.",
}

# Fields that take a Keras name (or {name: ..., parameters}): kind, names -> parameters,
# aliases, and the JSON types the parameters may have (optimizer settings are numbers).
_ANY_PARAM = ["number", "boolean", "string"]
_NAMES: dict[str, tuple[dict[str, tuple[str, ...]], dict[str, str], list[str]]] = {
    "activation": (catalog.ACTIVATIONS, {}, _ANY_PARAM),
    "initializer": (catalog.INITIALIZERS, catalog.INITIALIZER_ALIASES, _ANY_PARAM),
    "optimizer": (catalog.OPTIMIZERS, {}, ["number", "boolean"]),
}
# The fields that take one of those names.
_NAMED_FIELDS = {
    "activation": "activation",
    "output_activation": "activation",
    "initializer": "initializer",
    "bias_initializer": "initializer",
    "optimizer": "optimizer",
}


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, as a dict (draft-07)."""
    raw = Config.model_json_schema()
    definitions = raw.pop("$defs", {})
    _annotate(Config.__name__, raw)
    for class_name, definition in definitions.items():
        _annotate(class_name, definition)
    schema = _inline(raw, definitions)
    return {
        "$schema": DRAFT,
        "title": "dnn-lab config",
        **{k: v for k, v in schema.items() if k != "title"},
        "definitions": {kind: _names_schema(kind, *spec) for kind, spec in _NAMES.items()},
    }


def render_schema() -> str:
    """The schema as the text ``dnn-lab schema`` prints and configs/ commits."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


def _annotate(class_name: str, definition: dict[str, Any]) -> None:
    """Add descriptions and the names the validators accept to one model's properties."""
    for field, prop in definition.get("properties", {}).items():
        prop.pop("title", None)
        if "description" not in prop and (class_name, field) in DESCRIPTIONS:
            prop["description"] = DESCRIPTIONS[(class_name, field)]
        if field in _NAMED_FIELDS:
            _refer_to_names(prop, _NAMED_FIELDS[field])
        elif (class_name, field) == ("DataConfig", "dataset"):
            prop["enum"] = list(DATASETS)
        elif (class_name, field) == ("TrainConfig", "loss"):
            prop["enum"] = ["auto", *catalog.LOSSES, *catalog.LOSS_ALIASES]
        elif (class_name, field) == ("TrainConfig", "metrics"):
            for branch in prop.get("anyOf", []):
                if branch.get("type") == "array":
                    branch["items"] = {"enum": sorted(catalog.METRICS), "type": "string"}


def _refer_to_names(prop: dict[str, Any], kind: str) -> None:
    """``str | dict`` in pydantic's schema becomes a reference to the names of ``kind``."""
    branches = []
    for branch in prop.pop("anyOf", []):
        if branch.get("type") == "string" and "enum" not in branch and "const" not in branch:
            branches.append({"$ref": f"#/definitions/{kind}"})
        elif branch.get("type") != "object":  # null, or a literal such as "auto"
            branches.append(branch)
    prop["anyOf"] = branches


def _names_schema(
    kind: str,
    table: dict[str, tuple[str, ...]],
    aliases: dict[str, str],
    param_types: list[str],
) -> dict[str, Any]:
    """One of the names, or ``{name: <name>, <its parameters>}`` with only its parameters."""
    spellings: dict[str, list[str]] = {name: [name] for name in table}
    for alias, canonical in aliases.items():
        spellings[canonical].append(alias)
    named = {"type": "string", "enum": [*table, *aliases], "description": f"a Keras {kind}"}
    mappings = [
        {
            "type": "object",
            "description": f"the {kind} {canonical}, with parameters",
            "properties": {
                "name": {"enum": names},
                **{param: {"type": param_types} for param in table[canonical]},
            },
            "required": ["name"],
            "additionalProperties": False,
        }
        for canonical, names in spellings.items()
    ]
    return {"anyOf": [named, *mappings]}


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """Replace every ``{"$ref": "#/$defs/X", ...}`` by X itself (the models are not recursive)."""
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if str(node.get("$ref", "")).startswith("#/$defs/"):
        target = copy.deepcopy(definitions[node["$ref"].rsplit("/", 1)[-1]])
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **siblings}, definitions)
    return {key: _inline(value, definitions) for key, value in node.items()}
