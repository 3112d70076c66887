"""The config schema: one pydantic model per section. Imports no Keras.

A config is validated whole before any data is read or TensorFlow is imported:
unknown keys, wrong types, values out of range and names Keras would not know
are errors whose message names the key path, what was received and what is
allowed, with a close match where there is one (see ``dnn_lab.config.messages``).
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dnn_lab.config import catalog
from dnn_lab.config.datasets import DATASETS, TABLE_DATASETS
from dnn_lab.config.names import (
    Spec,
    activation_spec,
    initializer_spec,
    optimizer_spec,
    unknown_name,
)
from dnn_lab.config.section import Section
from dnn_lab.config.sweep_section import SweepConfig
from dnn_lab.errors import short


class DataConfig(Section):
    """Where the data comes from and how it is split and scaled."""

    # a built-in name (see `dnn-lab datasets`), or csv / parquet / npz; a path ending in
    # .parquet with no dataset (or csv) given is parquet
    dataset: str = "digits"
    path: str | None = None  # file for csv/parquet/npz; directory of IDX files for (fashion_)mnist
    # data.path's size and SHA-256, as the run that resolved this config read it: training
    # from a recorded config.yaml refuses a file that changed since (set both to null to accept)
    path_bytes: int | None = Field(None, ge=0)
    path_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    target: str | None = None  # csv, parquet: the label column
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    one_hot: bool = False  # one-hot labels, for categorical_crossentropy
    validation_split: float = Field(0.2, ge=0.0, lt=1.0)
    test_split: float | None = Field(None, ge=0.0, lt=1.0)  # None: the dataset's own test set
    split_seed: int | None = Field(None, ge=0, le=2**32 - 1)  # None: the run's seed
    scaling: Literal["auto", "pixels", "standard", "minmax", "none"] = "auto"
    max_samples: int | None = Field(None, ge=1)  # keep the first N training samples
    # csv: text columns to one-hot encode; auto: every text column (dates and IDs left out)
    categorical: Literal["auto"] | list[str] = "auto"
    # csv: an empty or NA feature cell is an error, drops its row, or is imputed (median or
    # most frequent value of the training split)
    missing: Literal["error", "drop", "impute"] = "error"

    @model_validator(mode="before")
    @classmethod
    def _parquet_from_its_suffix(cls, value: Any) -> Any:
        if (
            isinstance(value, dict)
            and isinstance(value.get("path"), str)
            and value["path"].lower().endswith((".parquet", ".pq"))
            and value.get("dataset", "csv") == "csv"
        ):
            return {**value, "dataset": "parquet"}
        return value

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value not in DATASETS:
            raise unknown_name("dataset", value, DATASETS)
        return value

    @field_validator("categorical", mode="before")
    @classmethod
    def _auto_or_names(cls, value: Any) -> Any:
        if value == "auto" or (
            isinstance(value, list) and all(isinstance(name, str) for name in value)
        ):
            return value
        raise PydanticCustomError(
            "dnn_lab",
            "expected auto or a list of column names, such as [colour, city]; "
            f"received {short(value)}",
        )

    @model_validator(mode="after")
    def _table_options_for_csv(self) -> DataConfig:
        if self.dataset not in TABLE_DATASETS:
            if self.categorical != "auto":
                raise PydanticCustomError(
                    "dnn_lab",
                    "data.categorical is for data.dataset: csv or parquet (columns of text)",
                )
            if self.missing != "error":
                raise PydanticCustomError(
                    "dnn_lab", "data.missing is for data.dataset: csv or parquet (empty cells)"
                )
        return self

    @model_validator(mode="after")
    def _splits_leave_training_data(self) -> DataConfig:
        if self.validation_split + (self.test_split or 0.0) >= 1.0:
            raise PydanticCustomError(
                "dnn_lab",
                "data.validation_split + data.test_split must be below 1 so some data is left "
                f"to train on; received {self.validation_split} + {self.test_split}",
            )
        return self


class LayerConfig(Section):
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
        classmethod(lambda cls, v: None if v is None else activation_spec(v))
    )
    _initializers = field_validator("initializer", "bias_initializer", mode="before")(
        classmethod(lambda cls, v: None if v is None else initializer_spec(v))
    )


class InitFromConfig(Section):
    """Reuse the first hidden layers of an earlier run (transfer learning).

    ``init_from: runs/<run>`` alone is short for ``{run: runs/<run>, layers: auto,
    trainable: true}``.
    """

    run: str = Field(min_length=1)  # the source run directory
    # how many hidden layers: N (their shapes must match), None: as many as both models have
    # (shapes must match), auto: the leading layers whose shapes match, stopping at the first
    # that does not
    layers: int | Literal["auto"] | None = None
    trainable: bool = False  # False freezes the reused layers

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"run": data, "layers": "auto", "trainable": True}
        if not isinstance(data, (dict, InitFromConfig)):
            raise PydanticCustomError(
                "dnn_lab",
                "expected a run directory, or a mapping with run, layers and trainable; "
                f"received {short(data)}",
            )
        return data

    @field_validator("layers", mode="before")
    @classmethod
    def _layer_count(cls, value: Any) -> Any:
        if value is None or value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PydanticCustomError(
                "dnn_lab",
                f"expected a number of hidden layers >= 1, or auto; received {short(value)}",
            )
        return value


class ModelConfig(Section):
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
        classmethod(lambda cls, v: None if v is None else activation_spec(v))
    )
    _initializers = field_validator("initializer", "bias_initializer", mode="before")(
        classmethod(lambda cls, v: None if v is None else initializer_spec(v))
    )

    @field_validator("output_activation", mode="before")
    @classmethod
    def _output_activation(cls, value: Any) -> Any:
        return value if value == "auto" else activation_spec(value)

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


class ScheduleConfig(Section):
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
            if any(value <= 0 for value in self.values):
                raise PydanticCustomError(
                    "dnn_lab",
                    "train.schedule.values are learning rates and must all be > 0; "
                    f"received {short(self.values)}",
                )
            if sorted(self.boundaries) != self.boundaries or min(self.boundaries, default=1) < 1:
                raise PydanticCustomError(
                    "dnn_lab", "train.schedule.boundaries must be increasing epoch numbers >= 1"
                )
        return self


class EarlyStoppingConfig(Section):
    """Stop when the monitored metric stops improving."""

    monitor: str = "auto"  # auto: the task's validation metric
    patience: int = Field(5, ge=1)
    min_delta: float = Field(0.0, ge=0.0)
    restore_best_weights: bool = True


class MCDropoutConfig(Section):
    """Evaluate with dropout left on, averaging this many stochastic predictions."""

    samples: int = Field(30, ge=2, le=10_000)


class TrainConfig(Section):
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
        classmethod(lambda cls, v: optimizer_spec(v))
    )

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        if value == "auto":
            return value
        canonical = catalog.LOSS_ALIASES.get(value, value)
        if canonical not in catalog.LOSSES:
            raise unknown_name("loss", value, ["auto", *catalog.LOSSES, *catalog.LOSS_ALIASES])
        return canonical

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: Any) -> Any:
        if value == "auto":
            return value
        for name in value:
            if name not in catalog.METRICS:
                raise unknown_name("metric", name, catalog.METRICS)
        return value

    @field_validator("steps_per_execution")
    @classmethod
    def _positive_steps(cls, value: Any) -> Any:
        if value != "auto" and value < 1:
            raise PydanticCustomError("dnn_lab", f"must be 'auto' or >= 1; received {value}")
        return value


class Config(Section):
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
