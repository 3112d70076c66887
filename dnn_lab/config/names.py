"""Named specs: the Keras activations, initializers and optimizers a config may name.

``"relu"`` or ``{name: leaky_relu, negative_slope: 0.1}`` is checked against the
catalog (name and parameters) and stored in canonical form. Imports no Keras.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable
from typing import Any

from pydantic_core import PydanticCustomError

from dnn_lab.config import catalog
from dnn_lab.errors import did_you_mean

Spec = str | dict[str, Any]


def short(value: Any, limit: int = 60) -> str:
    text = reprlib.repr(value) if isinstance(value, (list, dict, tuple, set)) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
            raise PydanticCustomError(
                "dnn_lab",
                f"parameter {key!r} of {kind} {canonical!r} must be a finite number, a boolean or "
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
    return _named_spec(value, "initializer", catalog.INITIALIZERS, catalog.INITIALIZER_ALIASES)


def optimizer_spec(value: Any) -> str | dict[str, Any]:
    spec = _named_spec(value, "optimizer", catalog.OPTIMIZERS)
    for key, param in spec_params(spec).items():
        if isinstance(param, str):  # every optimizer setting is a number or a boolean
            raise PydanticCustomError(
                "dnn_lab",
                f"parameter {key!r} of optimizer {spec_name(spec)!r} must be a number; "
                f"received {short(param)}",
            )
    return spec
