"""A validated model section -> ``keras.Sequential``, and its parameter table.

Layers are named so a run's summary reads like the config: ``hidden_1``,
``bn_1``, ``act_1``, ``dropout_1``... ``output``. Import only after
``dnn_lab.training.backend.configure``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import keras
import numpy as np

from dnn_lab.config.head import Head
from dnn_lab.config.names import spec_name, spec_params
from dnn_lab.config.schema import Config, LayerConfig
from dnn_lab.errors import ConfigError


@keras.saving.register_keras_serializable(package="dnn_lab")
class ParamActivation(keras.layers.Layer):
    """An activation with parameters, as runs saved it before they used Keras's own classes.

    No longer built (see ``activation_layer``); kept so that those runs' ``model.keras``
    still loads, with dnn-lab imported, for ``init_from``.
    """

    def __init__(self, activation: str, params: dict[str, Any] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self.params = dict(params or {})
        self._fn = keras.activations.get(activation)

    def call(self, inputs):
        return self._fn(inputs, **self.params)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "params": self.params}


# Activations with parameters that Keras has a layer for; the layer saves its parameters.
_ACTIVATION_LAYERS: dict[str, type[keras.layers.Layer]] = {
    "elu": keras.layers.ELU,
    "leaky_relu": keras.layers.LeakyReLU,
    "relu": keras.layers.ReLU,
    "softmax": keras.layers.Softmax,
}


def _activation_operations() -> dict[str, type]:
    """Keras's own operation classes for activations with parameters, by activation name.

    ``keras.layers.Activation`` takes one of these as its function and saves it as a
    Keras built-in (module ``keras.src...``), which ``load_model`` rebuilds in safe mode
    in a Python that has only Keras. Keras exports the functions, not these classes,
    hence the ``keras.src`` import; ``tests/training/test_saved_model.py`` checks every
    parametrised activation of the catalog against the installed Keras.
    """
    from keras.src.activations.activations import ReLU
    from keras.src.ops import nn

    return {
        "celu": nn.Celu,
        "elu": nn.Elu,
        "gelu": nn.Gelu,
        "glu": nn.Glu,
        "hard_shrink": nn.HardShrink,
        "leaky_relu": nn.LeakyRelu,
        "log_softmax": nn.LogSoftmax,
        "relu": ReLU,
        "soft_shrink": nn.SoftShrink,
        "softmax": nn.Softmax,
        "sparsemax": nn.Sparsemax,
        "squareplus": nn.Squareplus,
        "threshold": nn.Threshold,
    }


def activation_layer(
    spec: str | dict, name: str, key: str = "model.activation", dtype: str | None = None
) -> keras.layers.Layer:
    """The layer that applies an activation, built from Keras's own classes only.

    A saved model then loads with ``keras.saving.load_model`` alone, safe mode on, in a
    Python that never imported dnn-lab. Parameters go to Keras's layer where there is
    one (``LeakyReLU(negative_slope)``, ``ELU(alpha)``, ``ReLU(...)``, ``Softmax(axis)``)
    and that layer accepts them; otherwise to Keras's operation inside an ``Activation``.

    Args:
        spec: the activation as the config has it: a name, or a mapping with parameters.
        name: the layer's name (``act_1``, ``output_activation``).
        key: the config key, for error messages; default ``model.activation``.
        dtype: the layer's dtype policy; default Keras's.

    Raises:
        ConfigError: Keras refuses the parameters.
    """
    activation, params = spec_name(spec), spec_params(spec)
    if not params:
        return keras.layers.Activation(activation, name=name, dtype=dtype)
    layer_class = _ACTIVATION_LAYERS.get(activation)
    if layer_class is not None:
        try:
            return layer_class(**params, name=name, dtype=dtype)
        except (TypeError, ValueError):
            pass  # LeakyReLU refuses a negative slope, which the function itself takes
    operation = _activation_operations().get(activation)
    if operation is None:
        raise ConfigError(f"{key}: {activation!r} takes no parameters; received {spec!r}")
    try:
        return keras.layers.Activation(operation(**params), name=name, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: Keras rejected {spec!r}: {exc}") from None


def activation_of(layer: keras.layers.Layer) -> str | None:
    """The name of the activation a layer applies (``"leaky_relu"``); None if none.

    Dense layers report the activation they apply themselves (``"linear"`` when none).
    """
    for activation, layer_class in _ACTIVATION_LAYERS.items():
        if type(layer) is layer_class:
            return activation
    if isinstance(layer, ParamActivation):
        return layer.activation
    if not isinstance(layer, (keras.layers.Activation, keras.layers.Dense)):
        return None
    function = layer.activation
    for activation, operation in _activation_operations().items():
        if type(function) is operation:
            return activation
    return getattr(function, "__name__", None) or "linear"


def make_initializer(spec: str | dict, key: str):
    params = spec_params(spec)
    if spec_name(spec) == "constant":
        params.setdefault("value", 0.0)  # Keras's default, which its deserializer forgets
    try:
        return keras.initializers.get({"class_name": spec_name(spec), "config": params})
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{key}: Keras rejected {spec!r}: {exc}") from None


def _regularizer(layer: LayerConfig):
    if layer.l1 or layer.l2:
        return keras.regularizers.L1L2(l1=layer.l1 or 0.0, l2=layer.l2 or 0.0)
    return None


def hidden_block(
    layer: LayerConfig, index: int, key: str, dropout_kind: str = "standard"
) -> list[keras.layers.Layer]:
    """Dense [+ BatchNorm] [+ activation] [+ BatchNorm] [+ Dropout] for one hidden layer."""
    # The activation gets a layer of its own when batch norm sits between Dense and it,
    # or when it has parameters; otherwise Dense applies it, as in the notes.
    separate = layer.batch_norm == "before" or bool(spec_params(layer.activation))
    dense = keras.layers.Dense(
        layer.units,
        activation=None if separate else spec_name(layer.activation),
        # batch norm right after Dense has its own shift (beta), which makes a bias redundant
        use_bias=layer.batch_norm != "before",
        kernel_initializer=make_initializer(layer.initializer, f"{key}.initializer"),
        bias_initializer=make_initializer(layer.bias_initializer, f"{key}.bias_initializer"),
        kernel_regularizer=_regularizer(layer),
        kernel_constraint=keras.constraints.MaxNorm(layer.max_norm) if layer.max_norm else None,
        name=f"hidden_{index}",
    )
    block: list[keras.layers.Layer] = [dense]
    if layer.batch_norm == "before":
        block.append(keras.layers.BatchNormalization(name=f"bn_{index}"))
    if separate:
        block.append(activation_layer(layer.activation, f"act_{index}", f"{key}.activation"))
    if layer.batch_norm == "after":
        block.append(keras.layers.BatchNormalization(name=f"bn_{index}"))
    if layer.dropout:
        block.append(_dropout(layer.dropout, dropout_kind, index))
    return block


def _dropout(rate: float, kind: str, index: int) -> keras.layers.Layer:
    if kind == "alpha":
        return keras.layers.AlphaDropout(rate, name=f"dropout_{index}")
    return keras.layers.Dropout(rate, name=f"dropout_{index}")


def build_model(config: Config, input_shape: tuple[int, ...], head: Head) -> keras.Sequential:
    """The Sequential the config describes: Input, Flatten if needed, hidden blocks, output."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=input_shape, name="input")]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten(name="flatten"))
    model_cfg = config.model
    for index, layer in enumerate(model_cfg.hidden_specs(), start=1):
        key = f"model.layers.{index - 1}" if model_cfg.layers is not None else "model"
        layers.extend(hidden_block(layer, index, key, model_cfg.dropout_kind))
    output_activation = head.activation
    # under mixed precision the output stays float32, so softmax and the loss stay stable
    output_dtype = "float32" if config.train.precision != "float32" else None
    layers.append(
        keras.layers.Dense(
            head.units,
            activation=None if spec_params(output_activation) else spec_name(output_activation),
            kernel_initializer=make_initializer(model_cfg.initializer, "model.initializer"),
            dtype=output_dtype,
            name="output",
        )
    )
    if spec_params(output_activation):
        layers.append(
            activation_layer(
                output_activation, "output_activation", "model.output_activation", output_dtype
            )
        )
    try:
        return keras.Sequential(layers, name=keras_name(config.name))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"model: Keras could not build this network: {exc}") from None


def keras_name(name: str) -> str:
    """A model name Keras and TensorFlow accept as a scope: ``my run`` -> ``my_run``.

    Keras refuses spaces, ``=``, ``+`` and non-ASCII letters in a scope name; the run
    keeps the user's name in ``run.json`` and ``config.yaml``.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.-")
    return cleaned or "model"


def layer_outputs(model: keras.Model, x, training=lambda layer: False) -> list:
    """Run a Sequential layer by layer, returning every layer's output.

    ``training(layer)`` says which layers run in training mode: none for a measurement,
    only the dropout layers for MC dropout.
    """
    outputs = []
    out = x
    for layer in model.layers:
        out = layer(out, training=training(layer))
        outputs.append(out)
    return outputs


def parameter_table(model: keras.Model) -> dict[str, Any]:
    """One row per layer with trainable/non-trainable counts and the Dense formula."""
    rows = []
    for layer in model.layers:
        trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        frozen = sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)
        row: dict[str, Any] = {
            "name": layer.name,
            "class": type(layer).__name__,
            "output_shape": [None if d is None else int(d) for d in layer.output.shape],
            "trainable": trainable,
            "non_trainable": frozen,
            "params": trainable + frozen,
        }
        if isinstance(layer, keras.layers.Dense):
            inputs, units = (int(d) for d in layer.kernel.shape)
            if layer.use_bias:
                row["formula"] = f"({inputs} + 1) x {units} = {(inputs + 1) * units}"
            else:
                row["formula"] = f"{inputs} x {units} = {inputs * units}"
        elif isinstance(layer, keras.layers.BatchNormalization):
            width = int(layer.gamma.shape[0]) if layer.gamma is not None else 0
            row["formula"] = (
                f"4 x {width} = {4 * width} (gamma, beta trained; moving mean, variance not)"
            )
        if not layer.trainable and row["params"]:
            row["frozen"] = True
        rows.append(row)
    totals = {
        "total": sum(r["params"] for r in rows),
        "trainable": sum(r["trainable"] for r in rows),
        "non_trainable": sum(r["non_trainable"] for r in rows),
    }
    return {"layers": rows, "totals": totals}


def summary_text(model: keras.Model) -> str:
    """The model summary exactly as ``model.summary()`` prints it."""
    parts: list[str] = []
    # Keras renders into a rich console as wide as the terminal (80 columns when there is
    # none) and crops its own table to fit; give it room so the file holds every column.
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"
    try:
        model.summary(print_fn=lambda text, **_: parts.append(text))
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(part.rstrip("\n") for part in parts) + "\n"
