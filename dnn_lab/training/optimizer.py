"""The optimizer and its learning-rate schedule, from the ``train`` section.

Schedules are written in epochs (what users think in) and converted to the
optimizer steps Keras counts. Import only after ``dnn_lab.training.backend.configure``.
"""

from __future__ import annotations

import math
from typing import Any

import keras

from dnn_lab.config.names import spec_name, spec_params
from dnn_lab.config.schema import ScheduleConfig, TrainConfig
from dnn_lab.errors import ConfigError


@keras.saving.register_keras_serializable(package="dnn_lab")
class PowerDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Power scheduling: ``lr0 / (1 + step / decay_steps) ** power``."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, power: float = 1.0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.power = power

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        return self.initial_learning_rate / (1.0 + step / self.decay_steps) ** self.power

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "power": self.power,
        }


def base_learning_rate(train: TrainConfig) -> float:
    params = spec_params(train.optimizer)
    if "learning_rate" in params:
        return float(params["learning_rate"])
    probe = keras.optimizers.get(spec_name(train.optimizer))
    return float(keras.ops.convert_to_numpy(probe.learning_rate))


def learning_rate_schedule(schedule: ScheduleConfig, lr0: float, steps_per_epoch: int, epochs: int):
    """A Keras schedule for step-based kinds; ``None`` for plateau, which is a callback."""
    schedules = keras.optimizers.schedules
    steps = lambda epochs_: max(1.0, float(epochs_) * steps_per_epoch)  # noqa: E731
    kind = schedule.kind
    if kind == "exponential":
        return schedules.ExponentialDecay(
            lr0, steps(schedule.decay_epochs), schedule.decay_rate, staircase=schedule.staircase
        )
    if kind == "inverse_time":
        return schedules.InverseTimeDecay(
            lr0, steps(schedule.decay_epochs), schedule.decay_rate, staircase=schedule.staircase
        )
    if kind == "power":
        return PowerDecay(lr0, steps(schedule.decay_epochs), schedule.power or 1.0)
    if kind == "piecewise":
        # boundary epoch e means "from epoch e+1 on". Keras switches once the step count
        # exceeds a boundary, and epoch e+1 starts at step e * steps_per_epoch.
        boundaries = [int(b * steps_per_epoch) - 1 for b in schedule.boundaries]
        return schedules.PiecewiseConstantDecay(boundaries, [float(v) for v in schedule.values])
    if kind == "cosine":
        warmup = int(schedule.warmup_epochs * steps_per_epoch)
        total = int(steps(schedule.decay_epochs or epochs)) - warmup
        if total < 1:
            raise ConfigError("train.schedule.warmup_epochs leaves no epochs to decay over")
        if warmup:
            return schedules.CosineDecay(
                0.0, total, alpha=schedule.alpha, warmup_target=lr0, warmup_steps=warmup
            )
        return schedules.CosineDecay(lr0, total, alpha=schedule.alpha)
    return None


# The schedule keys that shape each kind's rates, named when the rates go wrong.
_SCHEDULE_KEYS = {
    "exponential": ("decay_rate", "decay_epochs"),
    "inverse_time": ("decay_rate", "decay_epochs"),
    "power": ("decay_epochs", "power"),
    "piecewise": ("values",),
    "cosine": ("decay_epochs", "alpha", "warmup_epochs"),
}
_MOST_EPOCHS_CHECKED = 500  # beyond this, evenly spread epochs stand for the rest


def check_schedule_rates(
    rates, schedule: ScheduleConfig, lr0: float, steps_per_epoch: int, epochs: int
) -> None:
    """Refuse a schedule whose learning rate is NaN or infinite at some step of the run.

    Keras computes the rate in float32, where ``decay_rate: 1e6`` overflows within a
    few epochs; training would then diverge at once and blame the learning rate. The
    rate is evaluated where each epoch starts and ends (at most 500 epochs, spread
    evenly, which suffices for these monotone or bounded schedules).

    Raises:
        ConfigError: naming the schedule's keys, the epoch and the rate.
    """
    import numpy as np

    checked = np.unique(np.linspace(0, epochs - 1, min(epochs, _MOST_EPOCHS_CHECKED)).round())
    for epoch in checked.astype(int).tolist():
        for step in (epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch - 1):
            try:
                rate = float(keras.ops.convert_to_numpy(rates(step)))
            except (ValueError, OverflowError) as exc:  # a value beyond float32
                problem = f"cannot be computed ({exc})"
            else:
                if math.isfinite(rate):
                    continue
                problem = f"becomes {rate}"
            keys = _SCHEDULE_KEYS.get(schedule.kind, ())
            shape = ", ".join(f"{key}={getattr(schedule, key)!r}" for key in keys)
            raise ConfigError(
                f"train.schedule: the learning rate {problem} at epoch {epoch + 1} "
                f"(a {schedule.kind} schedule from {lr0:g}"
                + (f" with {shape}" if shape else "")
                + "); choose "
                + (" or ".join(f"train.schedule.{key}" for key in keys) or "another schedule")
                + " so that it stays a finite float32 number"
            )


def build_optimizer(train: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The configured optimizer, with its schedule attached when there is one.

    Raises:
        ConfigError: Keras refuses the optimizer, or the schedule's learning rate becomes
            NaN or infinite during the run.
    """
    params: dict[str, Any] = dict(spec_params(train.optimizer))
    if train.schedule is not None and train.schedule.kind != "plateau":
        lr0 = base_learning_rate(train)
        rates = learning_rate_schedule(train.schedule, lr0, steps_per_epoch, train.epochs)
        check_schedule_rates(rates, train.schedule, lr0, steps_per_epoch, train.epochs)
        params["learning_rate"] = rates
    try:
        return keras.optimizers.get({"class_name": spec_name(train.optimizer), "config": params})
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"train.optimizer: Keras rejected {train.optimizer!r}: {exc}") from None


def clipping(optimizer: keras.optimizers.Optimizer) -> dict[str, float]:
    """The gradient clipping an optimizer applies, for the run record."""
    return {
        key: float(getattr(optimizer, key))
        for key in ("clipnorm", "clipvalue", "global_clipnorm")
        if getattr(optimizer, key, None) is not None
    }
