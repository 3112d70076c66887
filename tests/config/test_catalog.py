"""The name catalog agrees with the installed Keras, in both directions."""

from __future__ import annotations

import inspect

import pytest

from dnn_lab.config import catalog

keras = pytest.importorskip("keras")
from keras.src import activations, initializers, optimizers  # noqa: E402

# Keras initializers that make no sense for a Dense kernel, or are abstract.
NOT_FOR_DENSE = {
    "initializer",
    "stft",
    "STFT",
    "STFTInitializer",
    "Initializer",
    "IdentityInitializer",
    "OrthogonalInitializer",
}
NOT_OPTIMIZERS = {
    "optimizer",
    "lossscaleoptimizer",
    "multioptimizer",
    "optimizermap",
    "muon",
    "schedulefreeadamw",
}


def test_every_keras_activation_is_in_the_catalog_with_its_parameters():
    assert set(catalog.ACTIVATIONS) == set(activations.ALL_OBJECTS_DICT)
    for name, params in catalog.ACTIVATIONS.items():
        signature = inspect.signature(activations.get(name))
        assert set(params) == set(signature.parameters) - {"x"}, name


def test_every_keras_initializer_name_resolves_through_the_catalog():
    for name in initializers.ALL_OBJECTS_DICT:
        if name in NOT_FOR_DENSE:
            continue
        canonical = catalog.INITIALIZER_ALIASES.get(name, name)
        assert canonical in catalog.INITIALIZERS, name
    for name, params in catalog.INITIALIZERS.items():
        cls = initializers.ALL_OBJECTS_DICT[name]
        accepted = set(inspect.signature(cls).parameters)
        assert set(params) <= accepted, name
        from dnn_lab.training.model import make_initializer

        assert isinstance(make_initializer(name, "x"), keras.initializers.Initializer)


def test_optimizer_parameters_match_the_keras_classes():
    expected = {n for n in optimizers.ALL_OBJECTS_DICT if n not in NOT_OPTIMIZERS}
    assert set(catalog.OPTIMIZERS) == expected
    for name, params in catalog.OPTIMIZERS.items():
        accepted = set(inspect.signature(optimizers.ALL_OBJECTS_DICT[name]).parameters)
        assert set(params) == accepted - {"name", "kwargs"}, name


def test_losses_and_metrics_are_keras_names():
    for name in catalog.LOSSES:
        assert keras.losses.get(name) is not None, name
    assert set(catalog.LOSS_ALIASES.values()) <= set(catalog.LOSSES)
    for name in catalog.METRICS:
        assert keras.metrics.get(name) is not None, name


def test_the_notes_names_are_all_there():
    notes = {
        "sigmoid",
        "relu",
        "tanh",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "silu",
        "swish",
        "linear",
        "softmax",
    }
    assert notes <= set(catalog.ACTIVATIONS)
    assert {
        "glorot_uniform",
        "glorot_normal",
        "he_normal",
        "he_uniform",
        "lecun_normal",
        "random_normal",
        "zeros",
    } <= set(catalog.INITIALIZERS)
    assert {"sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam", "adamw"} <= set(
        catalog.OPTIMIZERS
    )
