"""The config schema, safe YAML loading, and ``--set`` overrides. Imports no Keras.

A config is validated whole before any data is read or TensorFlow is imported:
unknown keys, wrong types, values out of range and names Keras would not know
are ``ConfigError``s whose message names the key path, what was received and
what is allowed, with a close match where there is one.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dnn_lab.config import catalog
from dnn_lab.errors import ConfigError, close_match

MAX_CONFIG_BYTES = 256 * 1024
MAX_YAML_NODES = 20_000

# --------------------------------------------------------------------------- names


def _short(value: Any, limit: int = 60) -> str:
    text = reprlib.repr(value) if isinstance(value, (list, dict, tuple, set)) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unknown_name(kind: str, name: Any, options: Iterable[str]) -> PydanticCustomError:
    options = sorted(options)
    hint = close_match(name, options)
    message = f"unknown {kind} {_short(name)}"
    if hint:
        message += f"; did you mean {hint!r}?"
    message += f" Allowed: {', '.join(options)}"
    return PydanticCustomError("dnn_lab", message)


def _named_spec(
    value: Any,
    kind: str,
    table: dict[str, tuple[str, ...]],
    aliases: dict[str, str] | None = None,
) -> str | dict[str, Any]:
    """Normalize ``"relu"`` or ``{name: leaky_relu, negative_slope: 0.1}`` to canonical form.

    Returns the bare name when there are no parameters, so resolved configs stay terse.
    """
    aliases = aliases or {}
    if isinstance(value, str):
        name, params = value, {}
    elif isinstance(value, dict):
        if "name" not in value:
            raise PydanticCustomError(
                "dnn_lab",
                f"a {kind} given as a mapping needs a 'name' key; received {_short(value)}",
            )
        name, params = value["name"], {k: v for k, v in value.items() if k != "name"}
    else:
        raise PydanticCustomError(
            "dnn_lab",
            f"expected a name, or a mapping with 'name' and parameters; received {_short(value)}",
        )
    if not isinstance(name, str):
        raise PydanticCustomError(
            "dnn_lab", f"a {kind} name must be a string; received {_short(name)}"
        )
    canonical = aliases.get(name, name)
    if canonical not in table:
        raise _unknown_name(kind, name, list(table))
    allowed = table[canonical]
    for key, param in params.items():
        if key not in allowed:
            hint = close_match(key, allowed)
            where = f"{kind} {canonical!r}"
            text = f"unknown parameter {key!r} for {where}"
            text += f"; did you mean {hint!r}?" if hint else ""
            text += f" Allowed: {', '.join(allowed) or '(none)'}"
            raise PydanticCustomError("dnn_lab", text)
        if not isinstance(param, (bool, int, float, str)) or (
            isinstance(param, float) and not math.isfinite(param)
        ):
            raise PydanticCustomError(
                "dnn_lab",
                f"parameter {key!r} of {kind} {canonical!r} must be a finite number, a boolean or "
                f"a string; received {_short(param)}",
            )
    return {"name": canonical, **params} if params else canonical


def spec_name(spec: str | dict[str, Any]) -> str:
    return spec if isinstance(spec, str) else spec["name"]


def spec_params(spec: str | dict[str, Any]) -> dict[str, Any]:
    return {} if isinstance(spec, str) else {k: v for k, v in spec.items() if k != "name"}


def _activation(value: Any) -> str | dict[str, Any]:
    return _named_spec(value, "activation", catalog.ACTIVATIONS)


def _initializer(value: Any) -> str | dict[str, Any]:
    return _named_spec(value, "initializer", catalog.INITIALIZERS, catalog.INITIALIZER_ALIASES)


def _optimizer(value: Any) -> str | dict[str, Any]:
    spec = _named_spec(value, "optimizer", catalog.OPTIMIZERS)
    for key, param in spec_params(spec).items():
        if isinstance(param, str):  # every optimizer setting is a number or a boolean
            raise PydanticCustomError(
                "dnn_lab",
                f"parameter {key!r} of optimizer {spec_name(spec)!r} must be a number; "
                f"received {_short(param)}",
            )
    return spec


# --------------------------------------------------------------------------- schema

Spec = str | dict[str, Any]


class _Section(BaseModel):
    # strict: "5" is not an epoch count; extra="forbid": a typo is an error, not a default.
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


class DataConfig(_Section):
    """Where the data comes from and how it is split and scaled."""

    dataset: str = "digits"  # a built-in name (see `dnn-lab datasets`), or csv / npz
    path: str | None = None  # file for csv/npz; directory of IDX files for (fashion_)mnist
    target: str | None = None  # csv: the label column
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    one_hot: bool = False  # one-hot labels, for categorical_crossentropy
    validation_split: float = Field(0.2, ge=0.0, lt=1.0)
    test_split: float | None = Field(None, ge=0.0, lt=1.0)  # None: the dataset's own test set
    split_seed: int | None = None  # None: the run's seed
    scaling: Literal["auto", "pixels", "standard", "minmax", "none"] = "auto"
    max_samples: int | None = Field(None, ge=1)  # keep the first N training samples

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        from dnn_lab.data.loaders import DATASETS

        if value not in DATASETS:
            raise _unknown_name("dataset", value, DATASETS)
        return value

    @model_validator(mode="after")
    def _splits_leave_training_data(self) -> DataConfig:
        if self.validation_split + (self.test_split or 0.0) >= 1.0:
            raise PydanticCustomError(
                "dnn_lab",
                "data.validation_split + data.test_split must be below 1 so some data is left "
                f"to train on; received {self.validation_split} + {self.test_split}",
            )
        return self


class LayerConfig(_Section):
    """One hidden Dense layer; unset fields take the model-wide value."""

    units: int = Field(ge=1, le=1_000_000)
    activation: Spec | None = None
    initializer: Spec | None = None
    bias_initializer: Spec | None = None
    dropout: float | None = Field(None, ge=0.0, lt=1.0)
    batch_norm: Literal["none", "before", "after"] | None = None
    l1: float | None = Field(None, ge=0.0)
    l2: float | None = Field(None, ge=0.0)
    max_norm: float | None = Field(None, gt=0.0)

    _activation = field_validator("activation", mode="before")(
        classmethod(lambda cls, v: None if v is None else _activation(v))
    )
    _initializers = field_validator("initializer", "bias_initializer", mode="before")(
        classmethod(lambda cls, v: None if v is None else _initializer(v))
    )


class InitFromConfig(_Section):
    """Reuse the first hidden layers of an earlier run (transfer learning)."""

    run: str  # the source run directory
    layers: int | None = Field(None, ge=1)  # how many hidden layers; None: all that fit
    trainable: bool = False  # False freezes the reused layers


class ModelConfig(_Section):
    """The dense network: hidden layers, then an output layer chosen by the task."""

    hidden_layers: int = Field(1, ge=0, le=1000)
    units: int | list[int] = 100  # one width for all hidden layers, or one per layer
    activation: Spec = "relu"
    initializer: Spec = "glorot_uniform"
    bias_initializer: Spec = "zeros"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    dropout_kind: Literal["standard", "alpha"] = "standard"  # alpha keeps SELU self-normalizing
    batch_norm: Literal["none", "before", "after"] = "none"  # relative to the activation
    l1: float = Field(0.0, ge=0.0)
    l2: float = Field(0.0, ge=0.0)
    max_norm: float | None = Field(None, gt=0.0)
    layers: list[LayerConfig] | None = None  # per-layer specs; replace hidden_layers + units
    output_activation: Spec | Literal["auto"] = "auto"
    init_from: InitFromConfig | None = None

    _activation = field_validator("activation", mode="before")(
        classmethod(lambda cls, v: None if v is None else _activation(v))
    )
    _initializers = field_validator("initializer", "bias_initializer", mode="before")(
        classmethod(lambda cls, v: None if v is None else _initializer(v))
    )

    @field_validator("output_activation", mode="before")
    @classmethod
    def _output_activation(cls, value: Any) -> Any:
        return value if value == "auto" else _activation(value)

    @field_validator("units")
    @classmethod
    def _positive_units(cls, value: int | list[int]) -> int | list[int]:
        widths = value if isinstance(value, list) else [value]
        for width in widths:
            if width < 1 or width > 1_000_000:
                raise PydanticCustomError(
                    "dnn_lab", f"every width must be between 1 and 1000000; received {width}"
                )
        return value

    @model_validator(mode="before")
    @classmethod
    def _count_from_width_list(cls, data: Any) -> Any:
        # `units: [300, 100]` alone means two hidden layers; saying so twice is not needed.
        if isinstance(data, dict) and "hidden_layers" not in data:
            for key in ("units", "layers"):  # per-layer specs win
                if isinstance(data.get(key), list):
                    data = {**data, "hidden_layers": len(data[key])}
        return data

    @model_validator(mode="after")
    def _consistent_layer_count(self) -> ModelConfig:
        if isinstance(self.units, list) and len(self.units) != self.hidden_layers:
            raise PydanticCustomError(
                "dnn_lab",
                f"model.units lists {len(self.units)} widths but model.hidden_layers is "
                f"{self.hidden_layers}; give one width per hidden layer",
            )
        if self.layers is not None and len(self.layers) != self.hidden_layers:
            raise PydanticCustomError(
                "dnn_lab",
                f"model.layers has {len(self.layers)} entries but model.hidden_layers is "
                f"{self.hidden_layers}; drop hidden_layers or make them agree",
            )
        return self

    def hidden_specs(self) -> list[LayerConfig]:
        """Every hidden layer with the model-wide defaults filled in."""
        if self.layers is not None:
            given = self.layers
        else:
            widths = (
                self.units if isinstance(self.units, list) else [self.units] * self.hidden_layers
            )
            given = [LayerConfig(units=w) for w in widths]
        defaults = {
            "activation": self.activation,
            "initializer": self.initializer,
            "bias_initializer": self.bias_initializer,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "l1": self.l1,
            "l2": self.l2,
            "max_norm": self.max_norm,
        }
        filled = []
        for layer in given:
            values = layer.model_dump()
            for key, default in defaults.items():
                if values[key] is None:
                    values[key] = default
            filled.append(LayerConfig.model_construct(**values))
        return filled


class ScheduleConfig(_Section):
    """A learning-rate schedule; the optimizer's learning_rate is its starting value."""

    kind: Literal["exponential", "piecewise", "inverse_time", "power", "cosine", "plateau"]
    # exponential / inverse_time: lr * rate ** (step / steps); steps in epochs
    decay_rate: float | None = Field(None, gt=0.0)
    decay_epochs: float | None = Field(None, gt=0.0)
    staircase: bool = False
    # piecewise: values[0] until epoch boundaries[0], then values[1] from the next epoch...
    boundaries: list[int] | None = None
    values: list[float] | None = None
    # power: lr / (1 + epoch / decay_epochs) ** power
    power: float | None = Field(None, gt=0.0)
    # cosine: decays to alpha * lr over decay_epochs (default: all epochs)
    alpha: float = Field(0.0, ge=0.0, le=1.0)
    warmup_epochs: int = Field(0, ge=0)
    # plateau: multiply by factor when monitor has not improved for patience epochs
    factor: float = Field(0.5, gt=0.0, lt=1.0)
    patience: int = Field(5, ge=1)
    monitor: str = "auto"  # auto: val_loss, or loss without a validation split
    min_lr: float = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _required_fields(self) -> ScheduleConfig:
        needs = {
            "exponential": ("decay_rate", "decay_epochs"),
            "inverse_time": ("decay_rate", "decay_epochs"),
            "power": ("decay_epochs",),
            "piecewise": ("boundaries", "values"),
        }.get(self.kind, ())
        missing = [key for key in needs if getattr(self, key) is None]
        if missing:
            raise PydanticCustomError(
                "dnn_lab",
                f"a {self.kind!r} schedule needs "
                + ", ".join("train.schedule." + key for key in missing),
            )
        if self.kind == "piecewise":
            if len(self.values) != len(self.boundaries) + 1:
                raise PydanticCustomError(
                    "dnn_lab",
                    "train.schedule.values needs one more entry than train.schedule.boundaries "
                    f"(received {len(self.values)} values for {len(self.boundaries)} boundaries)",
                )
            if sorted(self.boundaries) != self.boundaries or min(self.boundaries, default=1) < 1:
                raise PydanticCustomError(
                    "dnn_lab", "train.schedule.boundaries must be increasing epoch numbers >= 1"
                )
        return self


class EarlyStoppingConfig(_Section):
    """Stop when the monitored metric stops improving."""

    monitor: str = "auto"  # auto: the task's validation metric
    patience: int = Field(5, ge=1)
    min_delta: float = Field(0.0, ge=0.0)
    restore_best_weights: bool = True


class MCDropoutConfig(_Section):
    """Evaluate with dropout left on, averaging this many stochastic predictions."""

    samples: int = Field(30, ge=2, le=10_000)


class TrainConfig(_Section):
    """Optimization: optimizer, loss, batches, epochs and callbacks."""

    optimizer: Spec = "adam"  # a name, or {name: sgd, learning_rate: 0.1, momentum: 0.9}
    loss: str = "auto"  # auto: follows the task and label format
    metrics: list[str] | Literal["auto"] = "auto"
    batch_size: int = Field(32, ge=1, le=1_000_000)
    epochs: int = Field(5, ge=1, le=100_000)
    schedule: ScheduleConfig | None = None
    early_stopping: EarlyStoppingConfig | None = None
    checkpoint: bool = False  # save the best epoch's weights as they happen
    mc_dropout: MCDropoutConfig | None = None
    tensorboard: bool = False
    diagnostics: bool = False  # gradient norms, dead and saturated units per layer and epoch
    # Speed without changing the math (see README, Speed):
    steps_per_execution: int | Literal["auto"] = "auto"  # steps per compiled call; auto: ~2 GFLOP
    jit_compile: bool | Literal["auto"] = "auto"  # auto: XLA unless deterministic ops forbid it
    deterministic: bool | Literal["auto"] = "auto"  # auto: TensorFlow's op determinism on GPUs
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = "float32"

    _optimizer = field_validator("optimizer", mode="before")(
        classmethod(lambda cls, v: _optimizer(v))
    )

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        if value == "auto":
            return value
        canonical = catalog.LOSS_ALIASES.get(value, value)
        if canonical not in catalog.LOSSES:
            raise _unknown_name("loss", value, ["auto", *catalog.LOSSES, *catalog.LOSS_ALIASES])
        return canonical

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: Any) -> Any:
        if value == "auto":
            return value
        for name in value:
            if name not in catalog.METRICS:
                raise _unknown_name("metric", name, catalog.METRICS)
        return value

    @field_validator("steps_per_execution")
    @classmethod
    def _positive_steps(cls, value: Any) -> Any:
        if value != "auto" and value < 1:
            raise PydanticCustomError("dnn_lab", f"must be 'auto' or >= 1; received {value}")
        return value


Distribution = Literal["uniform", "loguniform", "int", "choice"]


class SweepConfig(_Section):
    """Many runs of one config: a grid, a random or a guided search, repeated over seeds."""

    grid: dict[str, list[Any]] = Field(default_factory=dict)  # key: [value, value...]
    space: dict[str, dict[Distribution, list[Any]]] = Field(default_factory=dict)
    search: Literal["grid", "random", "optuna"] = "grid"
    trials: int | None = Field(None, ge=1, le=100_000)  # random/optuna: how many settings
    repeats: int = Field(1, ge=1, le=1000)  # seeds seed, seed+1, ... per setting
    workers: int | None = Field(None, ge=1, le=256)  # None: one per GPU, else 1
    prune: bool = True  # optuna: stop hopeless trials early

    @field_validator("grid")
    @classmethod
    def _non_empty_axes(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise PydanticCustomError("dnn_lab", f"axis {key!r} has no values")
        return value

    @field_validator("space")
    @classmethod
    def _ranges(cls, value: dict[str, dict[str, list[Any]]]) -> dict[str, dict[str, list[Any]]]:
        for key, spec in value.items():
            if len(spec) != 1:
                raise PydanticCustomError(
                    "dnn_lab",
                    f"{key}: give exactly one of uniform, loguniform, int, choice; "
                    f"received {_short(spec)}",
                )
            ((kind, args),) = spec.items()
            if kind == "choice":
                if not args:
                    raise PydanticCustomError("dnn_lab", f"{key}: choice needs values")
                continue
            if len(args) != 2 or not all(
                isinstance(a, (int, float)) and not isinstance(a, bool) for a in args
            ):
                raise PydanticCustomError(
                    "dnn_lab", f"{key}: {kind} takes [low, high]; received {_short(args)}"
                )
            low, high = args
            if not low < high:
                raise PydanticCustomError("dnn_lab", f"{key}: {kind} needs low < high")
            if kind == "loguniform" and low <= 0:
                raise PydanticCustomError("dnn_lab", f"{key}: loguniform needs low > 0")
            if kind == "int" and not all(isinstance(a, int) for a in args):
                raise PydanticCustomError("dnn_lab", f"{key}: int takes two integers")
        return value

    @model_validator(mode="after")
    def _search_has_what_it_needs(self) -> SweepConfig:
        if self.search in ("random", "optuna"):
            if not self.space and not self.grid:
                raise PydanticCustomError(
                    "dnn_lab", f"a {self.search} search needs sweep.space (ranges to draw from)"
                )
            if self.trials is None:
                raise PydanticCustomError(
                    "dnn_lab", f"a {self.search} search needs sweep.trials (how many settings)"
                )
        elif self.space:
            raise PydanticCustomError(
                "dnn_lab", "sweep.space is for search: random or optuna; a grid uses sweep.grid"
            )
        return self


class Config(_Section):
    """A whole experiment: what to train, on what, and how."""

    name: str = Field("run", min_length=1, max_length=80)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    backend: Literal["tensorflow", "jax", "torch"] = "tensorflow"
    device: Literal["auto", "cpu", "gpu"] = "auto"
    devices: Literal["one", "all"] = "one"  # all: data-parallel over every visible GPU
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    sweep: SweepConfig | None = None  # read by `dnn-lab sweep`; a single run ignores it

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"sweep"} if self.sweep is None else None)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------- loading


class _StrictLoader(yaml.SafeLoader):
    """``safe_load`` that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"a key must be plain text, not {type(key).__name__}",
                key_node.start_mark,
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen[key] = loader.construct_object(value_node, deep=deep)
    return seen


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 reads `1e-3` as a string; everyone writing a learning rate means a number.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _count_nodes(node: yaml.Node, budget: list[int]) -> None:
    """Refuse alias bombs: count nodes as they would expand, with a hard ceiling."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(
            f"the config expands to more than {MAX_YAML_NODES} values (a YAML alias bomb?)"
        )
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _count_nodes(child, budget)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _count_nodes(key, budget)
            _count_nodes(value, budget)


def parse_yaml(text: str, source: str) -> Any:
    """Parse one YAML document safely: no tags that build objects, no duplicate keys."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _count_nodes(node, [MAX_YAML_NODES])
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except RecursionError:
        raise ConfigError(f"{source}: the YAML is nested too deeply") from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: not valid YAML{where}: {problem}") from None


def read_config_file(path: Path) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {len(raw)} bytes is over the {MAX_CONFIG_BYTES}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    data = parse_yaml(text, str(path))
    if data is None:
        raise ConfigError(f"{path}: the config is empty; see configs/adam_relu.yaml for an example")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config is a mapping of sections (name, seed, data, model, train); "
            f"received a {type(data).__name__}"
        )
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.epochs=2`` -> (["train", "epochs"], 2); the value is read as YAML."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, for example --set train.epochs=2")
    parts = key.split(".")
    if any(not part for part in parts):
        raise ConfigError(f"--set {text!r}: {key!r} is not a dotted key path")
    return parts, parse_yaml(value, f"--set {key}")


_SECTIONS = ("data", "model", "train")


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a raw config; the result is validated like the file.

    Overriding ``model.units`` (or ``model.layers``) with a list also sets the layer
    count, unless ``model.hidden_layers`` is overridden too.
    """
    overridden: set[str] = set()
    for text in overrides:
        parts, value = parse_override(text)
        overridden.add(".".join(parts))
        node: Any = data
        for depth, part in enumerate(parts[:-1]):
            here = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                node = _list_item(node, part, here)
                continue
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif isinstance(child, str):
                # `train.optimizer.momentum=0.9` on `optimizer: sgd`: {name: sgd, momentum: 0.9}
                child = node[part] = {"name": child}
            elif not isinstance(child, (dict, list)):
                raise ConfigError(
                    f"--set {text}: {here} is {_short(child)}, not a section with keys"
                )
            node = child
        last = parts[-1]
        if isinstance(node, list):
            node[_list_index(node, last, ".".join(parts))] = value
        elif len(parts) == 1 and last in _SECTIONS and isinstance(value, dict):
            # `--set model={activation: relu, initializer: he_normal}` changes those keys and
            # keeps the rest of the section; a sweep axis can pair values this way
            current = node.get(last)
            node[last] = {**current, **value} if isinstance(current, dict) else value
            overridden.update(f"{last}.{key}" for key in value)
        else:
            node[last] = value
    model = data.get("model")
    if isinstance(model, dict) and "model.hidden_layers" not in overridden:
        for key in ("units", "layers"):
            if f"model.{key}" in overridden and isinstance(model.get(key), list):
                model.pop("hidden_layers", None)
    return data


def _list_index(items: list, part: str, here: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError(f"--set: {here}: expected an index below {len(items)}; received {part!r}")
    return int(part)


def _list_item(items: list, part: str, here: str) -> Any:
    return items[_list_index(items, part, here)]


def validate_config(data: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(
    path: Path | None, overrides: Iterable[str] = (), name: str | None = None
) -> Config:
    """Read, override and validate a config file; ``path=None`` starts from the defaults."""
    data = read_config_file(path) if path is not None else {}
    data.setdefault("name", Path(path).stem if path is not None else "run")
    data = apply_overrides(data, overrides)
    if name is not None:
        data["name"] = name
    return validate_config(data, str(path) if path is not None else "config")


# --------------------------------------------------------------------------- messages


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = next(
            (
                arg
                for arg in (getattr(annotation, "__args__", None) or (annotation,))
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ),
            None,
        )
    return model


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    parent = _model_at(tuple(p for p in loc[:-1] if isinstance(p, str)))
    return list(parent.model_fields) if parent else []


_UNION_TAG = re.compile(r"^(str|int|float|bool|none|[a-z-]+\[.*\])$")


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: ``key.path: what is wrong (received ...); did you mean ...``."""
    lines: dict[str, str] = {}
    expected: dict[str, list[str]] = {}  # type errors, merged per path (unions report one each)
    received: dict[str, Any] = {}
    for error in exc.errors():
        kind = error["type"]
        raw = tuple(error["loc"])
        # pydantic names union members and validator functions in the path; users do not.
        # The last part of an unknown-key error is the user's key, whatever it looks like.
        keep_last = raw[-1:] if kind == "extra_forbidden" else ()
        head = raw[: len(raw) - len(keep_last)]
        loc = tuple(p for p in head if not (isinstance(p, str) and _UNION_TAG.match(p)))
        loc += keep_last
        path = ".".join(str(p) for p in loc) or "(top level)"
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc)
            hint = close_match(str(loc[-1]), allowed)
            text = f"{path}: unknown key"
            text += (
                f"; did you mean {'.'.join(str(p) for p in loc[:-1] + (hint,))!r}?" if hint else ""
            )
            text += f" Allowed here: {', '.join(allowed)}" if allowed else ""
        elif kind == "dnn_lab":
            # cross-field checks name their keys in full already
            text = error["msg"] if f"{path}." in error["msg"] else f"{path}: {error['msg']}"
        elif kind == "literal_error":
            options = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
            hint = close_match(str(error["input"]), options)
            text = f"{path}: received {_short(error['input'])}; allowed: {', '.join(options)}"
            text += f"; did you mean {hint!r}?" if hint else ""
        elif kind == "missing":
            text = f"{path}: required key is missing"
        elif kind.endswith("_type") or kind.endswith("_parsing"):
            want = error["msg"].replace("Input should be ", "").replace("a valid ", "")
            expected.setdefault(path, []).append(want)
            received[path] = error["input"]
            continue
        else:
            message = error["msg"][0].lower() + error["msg"][1:]
            text = f"{path}: {message}; received {_short(error['input'])}"
        lines.setdefault(path + text, text)
    for path, wants in expected.items():
        if not any(key.startswith(path) for key in lines):  # a specific message says more
            want = " or ".join(dict.fromkeys(wants))
            lines[path] = f"{path}: expected {want}; received {_short(received[path])}"
    found = list(lines.values())
    if len(found) == 1:
        return f"{source}: {found[0]}"
    return f"{source}: invalid config\n  " + "\n  ".join(found)
