"""Named specs: the Keras activations, initializers and optimizers a config may name.

``"relu"`` or ``{name: leaky_relu, negative_slope: 0.1}`` is checked against the
catalog (name and parameters) and stored in canonical form. Imports no Keras.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic_core import PydanticCustomError

from dnn_lab.config import catalog
from dnn_lab.errors import did_you_mean, short

Spec = str | dict[str, Any]


def unknown_name(kind: str, name: Any, options: Iterable[str]) -> PydanticCustomError:
    options = sorted(options)
    message = f"unknown {kind} {short(name)}{did_you_mean(name, options)}"
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
                f"a {kind} given as a mapping needs a 'name' key; received {short(value)}",
            )
        name, params = value["name"], {k: v for k, v in value.items() if k != "name"}
    else:
        raise PydanticCustomError(
            "dnn_lab",
            f"expected a name, or a mapping with 'name' and parameters; received {short(value)}",
        )
    if not isinstance(name, str):
        raise PydanticCustomError(
            "dnn_lab", f"a {kind} name must be a string; received {short(name)}"
        )
    canonical = aliases.get(name, name)
    if canonical not in table:
        raise unknown_name(kind, name, list(table))
    allowed = table[canonical]
    for key, param in params.items():
        if key not in allowed:
            text = f"unknown parameter {key!r} for {kind} {canonical!r}"
            text += did_you_mean(key, allowed)
            text += f" Allowed: {', '.join(allowed) or '(none)'}"
            raise PydanticCustomError("dnn_lab", text)
        if not isinstance(param, (bool, int, float, str)) or (
            isinstance(param, float) and not math.isfinite(param)
        ):
            raise _param_error(
                key,
                f"a parameter of {kind} {canonical!r} must be a finite number, a boolean or "
                f"a string; received {short(param)}",
            )
    return {"name": canonical, **params} if params else canonical


def spec_name(spec: str | dict[str, Any]) -> str:
    return spec if isinstance(spec, str) else spec["name"]


def spec_params(spec: str | dict[str, Any]) -> dict[str, Any]:
    return {} if isinstance(spec, str) else {k: v for k, v in spec.items() if k != "name"}


def activation_spec(value: Any) -> str | dict[str, Any]:
    return _named_spec(value, "activation", catalog.ACTIVATIONS)


def initializer_spec(value: Any) -> str | dict[str, Any]:
    spec = _named_spec(value, "initializer", catalog.INITIALIZERS, catalog.INITIALIZER_ALIASES)
    params = spec_params(spec)
    for key, param in params.items():
        params[key] = _check_param(key, param, INITIALIZER_PARAMS)
    if spec_name(spec) == "random_uniform" and ("minval" in params or "maxval" in params):
        low, high = params.get("minval", -0.05), params.get("maxval", 0.05)  # Keras's defaults
        if not low < high:
            raise _param_error(
                "maxval", f"must be above minval; received minval {low!r}, maxval {high!r}"
            )
    return {"name": spec_name(spec), **params} if params else spec


def optimizer_spec(value: Any) -> str | dict[str, Any]:
    spec = _named_spec(value, "optimizer", catalog.OPTIMIZERS)
    params = spec_params(spec)
    for key, param in params.items():
        params[key] = _check_param(key, param, OPTIMIZER_PARAMS)
    clips = [key for key in ("clipnorm", "clipvalue", "global_clipnorm") if key in params]
    if len(clips) > 1:
        raise PydanticCustomError(
            "dnn_lab",
            f"set one of clipnorm, clipvalue, global_clipnorm; received {' and '.join(clips)}",
        )
    return {"name": spec_name(spec), **params} if params else spec


# --------------------------------------------------------------------------- parameter values


@dataclass(frozen=True, kw_only=True)
class Bounds:
    """The numbers a parameter admits: ``low``/``high`` included unless open; None: unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is refused
    high_open: bool = False
    integer: bool = False

    def admits(self, value: float) -> bool:
        if self.integer and not isinstance(value, int):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{kind} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        return kind


_POSITIVE = Bounds(low=0, low_open=True)
_NON_NEGATIVE = Bounds(low=0)
_FRACTION = Bounds(low=0, high=1)  # a momentum: 0 and 1 included
_DECAY = Bounds(low=0, high=1, high_open=True)  # a moving-average coefficient below 1

# What each optimizer setting admits (Keras refuses several of these only when training
# starts, and takes a negative learning rate without a word); True: a boolean flag.
OPTIMIZER_PARAMS: dict[str, Bounds | bool] = {
    "learning_rate": _POSITIVE,
    "weight_decay": _NON_NEGATIVE,
    "clipnorm": _POSITIVE,
    "clipvalue": _POSITIVE,
    "global_clipnorm": _POSITIVE,
    "use_ema": True,
    "ema_momentum": _FRACTION,
    "ema_overwrite_frequency": Bounds(low=1, integer=True),
    "loss_scale_factor": _POSITIVE,
    "gradient_accumulation_steps": Bounds(low=2, integer=True),
    "momentum": _FRACTION,
    "nesterov": True,
    "initial_accumulator_value": _NON_NEGATIVE,
    "epsilon": _POSITIVE,
    "rho": _DECAY,
    "centered": True,
    "beta_1": _DECAY,
    "beta_2": _DECAY,
    "amsgrad": True,
    "beta_2_decay": Bounds(high=0),
    "epsilon_1": _POSITIVE,
    "epsilon_2": _POSITIVE,
    "clip_threshold": _POSITIVE,
    "relative_step": True,
    "learning_rate_power": Bounds(high=0),
    "l1_regularization_strength": _NON_NEGATIVE,
    "l2_regularization_strength": _NON_NEGATIVE,
    "l2_shrinkage_regularization_strength": _NON_NEGATIVE,
    "beta": _NON_NEGATIVE,
}

# Initializer settings with a range; the others (mean, value, minval...) take any number.
INITIALIZER_PARAMS: dict[str, Bounds | bool | tuple[str, ...]] = {
    "minval": Bounds(),
    "maxval": Bounds(),
    "stddev": _POSITIVE,
    "scale": _POSITIVE,
    "seed": Bounds(low=0, high=2**32 - 1, integer=True),
    "mode": ("fan_in", "fan_out", "fan_avg"),
    "distribution": ("truncated_normal", "untruncated_normal", "uniform"),
}


def _check_param(key: str, value: Any, rules: dict[str, Bounds | bool | tuple[str, ...]]) -> Any:
    """One parameter of a named spec against its rule; a float setting given as 1 becomes 1.0.

    The error carries the parameter as ``param``, so the message names its full key path.
    """
    rule = rules.get(key)
    if rule is None:
        return value
    if rule is True:
        if not isinstance(value, bool):
            raise _param_error(key, f"must be true or false; received {short(value)}")
        return value
    if isinstance(rule, tuple):
        if value not in rule:
            raise _param_error(
                key,
                f"must be one of {', '.join(rule)}; received {short(value)}"
                + did_you_mean(str(value), rule),
            )
        return value
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not rule.admits(value):
        raise _param_error(key, f"must be {rule.describe()}; received {short(value)}")
    return value if rule.integer else float(value)


def _param_error(key: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("dnn_lab", message, {"param": key})
