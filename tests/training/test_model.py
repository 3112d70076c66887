"""Model building: the Sequential the config describes, and its parameter table."""

from __future__ import annotations

import pytest

from dnn_lab.config.head import resolve_head
from dnn_lab.config.loading import validate_config
from dnn_lab.errors import ConfigError
from tests.conftest import TINY, merge

keras = pytest.importorskip("keras")


def build(extra: dict, input_shape=(8, 8), task="multiclass", n_classes=10):
    from dnn_lab.training.model import build_model

    config = validate_config(merge(TINY, extra))
    return build_model(config, input_shape, resolve_head(config, task, n_classes))


def test_the_notes_fashion_mnist_model_has_the_notes_parameter_counts():
    # 784 -> Dense(100) -> Dense(10): 78,500 + 1,010 = 79,510, as in the notes' summary
    from dnn_lab.training.model import parameter_table

    model = build({"model": {"hidden_layers": 1, "units": 100}}, input_shape=(28, 28))
    table = parameter_table(model)
    names = [row["name"] for row in table["layers"]]
    assert names == ["flatten", "hidden_1", "output"]
    assert table["layers"][0]["output_shape"] == [None, 784]
    assert table["layers"][1]["params"] == 78_500
    assert table["layers"][1]["formula"] == "(784 + 1) x 100 = 78500"
    assert table["layers"][2]["formula"] == "(100 + 1) x 10 = 1010"
    assert table["totals"] == {"total": 79_510, "trainable": 79_510, "non_trainable": 0}
    assert table["totals"]["total"] == model.count_params()


def test_flat_input_gets_no_flatten_and_widths_follow_the_list():
    model = build({"model": {"hidden_layers": 2, "units": [300, 100]}}, input_shape=(64,))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense", "Dense"]
    assert [layer.units for layer in model.layers] == [300, 100, 10]


def test_activation_and_initializer_reach_every_hidden_layer():
    model = build(
        {
            "model": {
                "hidden_layers": 2,
                "units": 8,
                "activation": "tanh",
                "initializer": {"name": "random_normal", "stddev": 0.5},
            }
        }
    )
    hidden = [layer for layer in model.layers if layer.name.startswith("hidden_")]
    assert [layer.activation.__name__ for layer in hidden] == ["tanh", "tanh"]
    assert all(type(layer.kernel_initializer).__name__ == "RandomNormal" for layer in hidden)
    assert hidden[0].kernel_initializer.stddev == 0.5


def test_output_layer_follows_the_task():
    assert build({}).layers[-1].activation.__name__ == "softmax"
    binary = build({}, input_shape=(30,), task="binary", n_classes=2)
    assert binary.layers[-1].units == 1 and binary.layers[-1].activation.__name__ == "sigmoid"
    regression = build({}, input_shape=(10,), task="regression", n_classes=None)
    assert regression.layers[-1].activation.__name__ == "linear"


def test_summary_shows_the_batch_dimension_as_none():
    from dnn_lab.training.model import summary_text

    text = summary_text(build({}))
    assert "(None, 16)" in text and "hidden_1 (Dense)" in text and "Total params" in text


def test_keras_rejecting_a_parameter_value_is_a_config_error():
    with pytest.raises(ConfigError, match="model.initializer"):
        build({"model": {"initializer": {"name": "variance_scaling", "mode": "sideways"}}})
