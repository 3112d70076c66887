"""The output layer, loss and metrics that a task and its label format call for.

sigmoid + binary cross-entropy for two classes, softmax + (sparse) categorical
cross-entropy for several, a linear output + MSE for regression. A loss that
does not fit the labels is a config error here, not a shape error inside Keras.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dnn_lab.config import catalog
from dnn_lab.config.names import spec_name
from dnn_lab.config.schema import Config
from dnn_lab.direction import Direction
from dnn_lab.errors import ConfigError, did_you_mean

_DEFAULT_LOSS = {
    "binary": "binary_crossentropy",
    "multiclass": "sparse_categorical_crossentropy",
    "multiclass_one_hot": "categorical_crossentropy",
    "regression": "mean_squared_error",
}
_DEFAULT_ACTIVATION = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}
_DEFAULT_METRICS = {"binary": ["accuracy"], "multiclass": ["accuracy"], "regression": ["mae"]}
# Output activations that give what each loss expects (probabilities, or any real number).
_FITTING_ACTIVATIONS = {
    "binary": {"sigmoid", "hard_sigmoid", "sparse_sigmoid"},
    "multiclass": {"softmax", "sparsemax"},
    "regression": set(catalog.ACTIVATIONS),
}


@dataclass(frozen=True, kw_only=True)
class Monitor:
    """A metric a callback watches, and which way it is better (``dnn_lab.direction``)."""

    metric: str  # e.g. val_loss
    direction: Direction

    @classmethod
    def of(cls, metric: str) -> Monitor:
        return cls(metric=metric, direction=Direction.of(metric))

    @property
    def mode(self) -> str:
        """Keras callbacks' word for the direction: ``max`` or ``min``."""
        return self.direction.value


@dataclass(frozen=True, kw_only=True)
class Head:
    """What the last layer and ``compile`` need, and every metric a callback watches.

    The monitors are resolved here once (``auto`` spelled out, each checked against what
    the run records), so the best epoch, the checkpoint, early stopping and the plateau
    schedule never work the same question out differently.
    """

    units: int
    activation: str | dict
    loss: str
    metrics: list[str]
    monitor: str  # the metric that decides the best epoch (and the checkpoint), e.g. val_accuracy
    direction: Direction  # which way ``monitor`` is better
    early_stopping: Monitor | None = None  # train.early_stopping's, when it is on
    plateau: Monitor | None = None  # train.schedule's, when it is the plateau schedule

    @property
    def mode(self) -> str:
        """Keras callbacks' word for the direction: ``max`` or ``min``."""
        return self.direction.value

    @property
    def best(self) -> Monitor:
        """The best epoch's metric, as a checkpoint watches it."""
        return Monitor(metric=self.monitor, direction=self.direction)


def label_format(task: str, one_hot: bool) -> str:
    return "multiclass_one_hot" if task == "multiclass" and one_hot else task


def resolve_head(config: Config, task: str, n_classes: int | None) -> Head:
    fmt = label_format(task, config.data.one_hot)
    loss = config.train.loss if config.train.loss != "auto" else _DEFAULT_LOSS[fmt]
    if fmt not in catalog.LOSSES[loss]:
        raise ConfigError.at("train.loss", _mismatch(loss, task, fmt, n_classes))

    activation = config.model.output_activation
    if activation == "auto":
        activation = _DEFAULT_ACTIVATION[task]
    elif spec_name(activation) not in _FITTING_ACTIVATIONS[task]:
        allowed = ", ".join(sorted(_FITTING_ACTIVATIONS[task]))
        raise ConfigError.at(
            "model.output_activation",
            f"model.output_activation: {spec_name(activation)!r} does not fit a {task} task "
            f"with loss {loss!r}; use one of: {allowed} (or auto)",
        )

    metrics = config.train.metrics if config.train.metrics != "auto" else _DEFAULT_METRICS[task]
    units = 1 if task in ("binary", "regression") else int(n_classes or 0)
    monitor_metric = "accuracy" if task != "regression" and "accuracy" in metrics else "loss"
    monitor = ("val_" if config.data.validation_split else "") + monitor_metric
    head = Head(
        units=units,
        activation=activation,
        loss=loss,
        metrics=list(metrics),
        monitor=monitor,
        direction=Direction.of(monitor),
    )
    return _with_monitors(config, head)


def logged_names(config: Config, head: Head) -> list[str]:
    """The keys Keras writes to the history for this config, in history order."""
    names = ["loss", *head.metrics]
    if config.data.validation_split:
        names += [f"val_{name}" for name in names]
    return names


def _with_monitors(config: Config, head: Head) -> Head:
    """``head`` with the metric each monitoring callback watches; ``auto`` spelled out.

    ``auto`` is the best epoch's metric for early stopping, and the loss (validation loss
    with a validation split) for the plateau schedule, which lowers the rate when learning
    stalls rather than when a score does.
    """
    train = config.train
    early_stopping = plateau = None
    if train.early_stopping is not None:
        name = train.early_stopping.monitor
        early_stopping = (
            head.best
            if name == "auto"
            else _recorded(config, head, "train.early_stopping.monitor", name)
        )
    if train.schedule is not None and train.schedule.kind == "plateau":
        name = train.schedule.monitor
        if name == "auto":
            name = "val_loss" if config.data.validation_split else "loss"
            plateau = Monitor.of(name)
        else:
            plateau = _recorded(config, head, "train.schedule.monitor", name)
    return dataclasses.replace(head, early_stopping=early_stopping, plateau=plateau)


def _recorded(config: Config, head: Head, key: str, name: str) -> Monitor:
    """The monitor for a metric the config names; a config error unless the run records it."""
    available = logged_names(config, head)
    if name not in available:
        raise ConfigError.at(
            key,
            f"{key}: {name!r} is not recorded by this run"
            + did_you_mean(name, available)
            + f" Recorded: {', '.join(available)}"
            + ("" if config.data.validation_split else " (no validation split, so no val_*)"),
        )
    return Monitor.of(name)


def _mismatch(loss: str, task: str, fmt: str, n_classes: int | None) -> str:
    if loss == "categorical_crossentropy" and fmt == "multiclass":
        return (
            "train.loss: categorical_crossentropy needs one-hot labels but data.one_hot is false; "
            "set data.one_hot: true, or use sparse_categorical_crossentropy for integer labels"
        )
    if loss == "sparse_categorical_crossentropy" and fmt == "multiclass_one_hot":
        return (
            "train.loss: sparse_categorical_crossentropy needs integer labels but data.one_hot is "
            "true; use categorical_crossentropy, or set data.one_hot: false"
        )
    fits = sorted(name for name, formats in catalog.LOSSES.items() if fmt in formats)
    classes = f" with {n_classes} classes" if n_classes else ""
    return (
        f"train.loss: {loss!r} does not fit a {task} task{classes}; "
        f"losses that fit: {', '.join(fits)} (or auto)"
    )


def resolved(config: Config, head: Head) -> Config:
    """The config as trained: 'auto' loss, metrics and output activation spelled out."""
    train = config.train.model_copy(update={"loss": head.loss, "metrics": list(head.metrics)})
    model = config.model.model_copy(update={"output_activation": head.activation})
    return config.model_copy(update={"train": train, "model": model})
