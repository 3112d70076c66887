"""Every training technique in the notes, set from a config, with its effect checked."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dnn_lab.config.loading import validate_config
from dnn_lab.errors import ConfigError
from dnn_lab.store import runs
from tests.conftest import TINY, merge, train_config

keras = pytest.importorskip("keras")


def load_model(result):
    return keras.saving.load_model(result.run_dir / runs.MODEL_FILE)


def history(result):
    return runs.read_history(result.run_dir / runs.HISTORY_FILE)


def info(result):
    return json.loads((result.run_dir / runs.RUN_FILE).read_text())


def digits_val():
    from dnn_lab.data.prepare import prepare_data

    return prepare_data(validate_config(TINY).data, 7)


def test_per_layer_specs_override_the_model_defaults(tmp_path):
    result = train_config(
        {
            "model": {
                "activation": "relu",
                "dropout": 0.1,
                "hidden_layers": 2,
                "layers": [
                    {
                        "units": 24,
                        "activation": "tanh",
                        "initializer": "he_normal",
                        "batch_norm": "after",
                    },
                    {"units": 12, "dropout": 0.0, "l2": 0.01},
                ],
            }
        },
        tmp_path,
    )
    model = load_model(result)
    names = [layer.name for layer in model.layers]
    assert names == ["flatten", "hidden_1", "bn_1", "dropout_1", "hidden_2", "output"]
    assert model.get_layer("hidden_1").activation.__name__ == "tanh"
    assert model.get_layer("hidden_2").activation.__name__ == "relu"
    assert model.get_layer("hidden_2").kernel_regularizer is not None
    assert model.get_layer("hidden_1").kernel_regularizer is None


@pytest.mark.parametrize(
    "name",
    [
        "sigmoid",
        "tanh",
        "relu",
        "elu",
        "selu",
        "gelu",
        "silu",
        "swish",
        "linear",
        "softplus",
        "mish",
    ],
)
def test_every_notes_activation_builds(name):
    from dnn_lab.config.head import resolve_head
    from dnn_lab.training.model import build_model

    config = validate_config(merge(TINY, {"model": {"activation": name}}))
    model = build_model(config, (8, 8), resolve_head(config, "multiclass", 10))
    aliases = {"swish": "silu"}  # Keras implements swish as silu
    assert model.get_layer("hidden_1").activation.__name__ == aliases.get(name, name)


def test_leaky_relu_with_its_slope_trains_saves_and_loads(tmp_path):
    result = train_config(
        {"model": {"activation": {"name": "leaky_relu", "negative_slope": 0.3}}}, tmp_path
    )
    model = load_model(result)
    layer = model.get_layer("act_1")
    assert isinstance(layer, keras.layers.LeakyReLU) and layer.negative_slope == 0.3
    out = keras.ops.convert_to_numpy(layer(np.array([[-1.0, 2.0]], dtype="float32")))
    assert out[0].tolist() == pytest.approx([-0.3, 2.0])


def test_initializer_with_parameters_sets_the_weights():
    from dnn_lab.config.head import resolve_head
    from dnn_lab.training.model import build_model

    config = validate_config(
        merge(
            TINY,
            {
                "model": {
                    "units": 400,
                    "initializer": {"name": "random_normal", "mean": 0.0, "stddev": 0.5},
                }
            },
        )
    )
    model = build_model(config, (8, 8), resolve_head(config, "multiclass", 10))
    kernel = keras.ops.convert_to_numpy(model.get_layer("hidden_1").kernel)
    assert kernel.std() == pytest.approx(0.5, rel=0.05)
    zeros = validate_config(merge(TINY, {"model": {"initializer": "zeros"}}))
    model = build_model(zeros, (8, 8), resolve_head(zeros, "multiclass", 10))
    assert not keras.ops.convert_to_numpy(model.get_layer("hidden_1").kernel).any()


@pytest.mark.parametrize(
    ("optimizer", "cls"),
    [
        ({"name": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True}, "SGD"),
        ("adagrad", "Adagrad"),
        ("rmsprop", "RMSprop"),
        ("adam", "Adam"),
        ("adamax", "Adamax"),
        ("nadam", "Nadam"),
        ({"name": "adamw", "weight_decay": 0.01}, "AdamW"),
    ],
)
def test_every_notes_optimizer_trains(tmp_path, optimizer, cls):
    result = train_config({"train": {"optimizer": optimizer, "epochs": 1}}, tmp_path)
    assert result.status == "completed"
    record = info(result)["optimizer"]
    assert record["class"] == cls
    if isinstance(optimizer, dict):
        for key, value in optimizer.items():
            if key != "name":
                assert record["config"][key] == pytest.approx(value)


@pytest.mark.parametrize("clip", [{"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 2.0}])
def test_gradient_clipping_is_set_on_the_optimizer(tmp_path, clip):
    result = train_config({"train": {"optimizer": {"name": "sgd", **clip}, "epochs": 1}}, tmp_path)
    assert info(result)["optimizer"]["clipping"] == clip
    model = load_model(result)
    key, value = next(iter(clip.items()))
    assert getattr(model.optimizer, key) == value


def test_exponential_schedule_lands_in_the_history(tmp_path):
    result = train_config(
        {
            "train": {
                "epochs": 3,
                "optimizer": {"name": "sgd", "learning_rate": 0.1},
                "schedule": {"kind": "exponential", "decay_rate": 0.5, "decay_epochs": 1},
            }
        },
        tmp_path,
    )
    assert [row["lr"] for row in history(result)] == pytest.approx([0.1, 0.05, 0.025])


def test_piecewise_schedule_changes_at_its_boundaries(tmp_path):
    result = train_config(
        {
            "train": {
                "epochs": 4,
                "schedule": {
                    "kind": "piecewise",
                    "boundaries": [2, 3],
                    "values": [0.01, 0.005, 0.001],
                },
            }
        },
        tmp_path,
    )
    assert [row["lr"] for row in history(result)] == pytest.approx([0.01, 0.01, 0.005, 0.001])


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"kind": "power", "decay_epochs": 1, "power": 1.0}, [0.1, 0.05, 0.1 / 3]),
        ({"kind": "inverse_time", "decay_epochs": 1, "decay_rate": 1.0}, [0.1, 0.05, 0.1 / 3]),
        (
            {"kind": "cosine"},
            [0.1, 0.1 * (1 + math.cos(math.pi / 3)) / 2, 0.1 * (1 + math.cos(2 * math.pi / 3)) / 2],
        ),
    ],
)
def test_power_inverse_time_and_cosine_schedules(tmp_path, schedule, expected):
    result = train_config(
        {
            "train": {
                "epochs": 3,
                "schedule": schedule,
                "optimizer": {"name": "sgd", "learning_rate": 0.1},
            }
        },
        tmp_path,
    )
    assert [row["lr"] for row in history(result)] == pytest.approx(expected, rel=1e-4)


def test_plateau_schedule_reduces_the_rate(tmp_path):
    # a learning rate of zero cannot improve anything, so the plateau is immediate
    result = train_config(
        {
            "train": {
                "epochs": 4,
                "optimizer": {"name": "sgd", "learning_rate": 1e-9},
                "schedule": {"kind": "plateau", "patience": 1, "factor": 0.5},
            }
        },
        tmp_path,
    )
    rates = [row["lr"] for row in history(result)]
    assert rates[0] == pytest.approx(1e-9) and rates[-1] < rates[0]


@pytest.mark.parametrize(
    ("schedule", "key", "rate"),
    [
        # float32 overflows within the first epoch
        (
            {"kind": "exponential", "decay_rate": 1e6, "decay_epochs": 0.05},
            "decay_rate",
            "becomes inf at epoch 1",
        ),
        # a value beyond float32
        (
            {"kind": "piecewise", "boundaries": [1], "values": [0.01, 1e39]},
            "values",
            "cannot be computed",
        ),
    ],
)
def test_a_schedule_whose_rate_is_not_finite_is_a_config_error(tmp_path, schedule, key, rate):
    with pytest.raises(ConfigError) as caught:
        train_config({"train": {"schedule": schedule}}, tmp_path / "runs")
    message = str(caught.value)
    assert f"train.schedule.{key}" in message and rate in message
    assert "learning rate" in message and not (tmp_path / "runs").exists()


def test_batch_norm_statistics_count_as_non_trainable(tmp_path):
    result = train_config({"model": {"batch_norm": "before"}}, tmp_path)
    params = json.loads((result.run_dir / runs.PARAMS_FILE).read_text())
    bn = next(row for row in params["layers"] if row["class"] == "BatchNormalization")
    assert bn["trainable"] == 2 * 16 and bn["non_trainable"] == 2 * 16
    dense = next(row for row in params["layers"] if row["name"] == "hidden_1")
    assert dense["formula"] == "64 x 16 = 1024"  # no bias before batch norm
    assert params["totals"]["non_trainable"] == 32
    names = [row["name"] for row in params["layers"]]
    assert names.index("bn_1") < names.index("act_1")
    after = train_config({"model": {"batch_norm": "after"}}, tmp_path)
    names = [
        row["name"] for row in json.loads((after.run_dir / runs.PARAMS_FILE).read_text())["layers"]
    ]
    assert names == ["flatten", "hidden_1", "bn_1", "output"]


def test_dropout_is_present_and_inactive_at_inference(tmp_path):
    result = train_config({"model": {"dropout": 0.5}}, tmp_path)
    model = load_model(result)
    assert isinstance(model.get_layer("dropout_1"), keras.layers.Dropout)
    x = digits_val().x_val[:50]
    first = keras.ops.convert_to_numpy(model(x, training=False))
    again = keras.ops.convert_to_numpy(model(x, training=False))
    noisy = keras.ops.convert_to_numpy(model(x, training=True))
    assert np.array_equal(first, again) and not np.allclose(first, noisy)


def test_alpha_dropout_for_selu(tmp_path):
    result = train_config(
        {
            "model": {
                "activation": "selu",
                "initializer": "lecun_normal",
                "dropout": 0.1,
                "dropout_kind": "alpha",
            }
        },
        tmp_path,
    )
    assert isinstance(load_model(result).get_layer("dropout_1"), keras.layers.AlphaDropout)


def test_l1_l2_and_max_norm(tmp_path):
    result = train_config(
        {"model": {"l1": 0.001, "l2": 0.01, "max_norm": 0.5}, "train": {"epochs": 3}}, tmp_path
    )
    layer = load_model(result).get_layer("hidden_1")
    assert layer.kernel_regularizer.l1 == pytest.approx(0.001)
    assert layer.kernel_regularizer.l2 == pytest.approx(0.01)
    norms = np.linalg.norm(keras.ops.convert_to_numpy(layer.kernel), axis=0)
    assert norms.max() <= 0.5 + 1e-5


def test_early_stopping_stops_and_says_which_epoch_was_kept(tmp_path):
    result = train_config(
        {"train": {"epochs": 50, "early_stopping": {"patience": 1, "min_delta": 0.5}}}, tmp_path
    )
    metrics = json.loads((result.run_dir / runs.METRICS_FILE).read_text())
    assert metrics["early_stopped"] is True and metrics["epochs_run"] < 50
    assert metrics["kept_epoch"] == metrics["best_epoch"]


def test_checkpoint_keeps_the_best_epoch_weights(tmp_path):
    result = train_config({"train": {"checkpoint": True, "epochs": 2}}, tmp_path)
    assert (result.run_dir / runs.BEST_WEIGHTS_FILE).stat().st_size > 0


def test_mc_dropout_reports_mean_prediction_and_spread(tmp_path):
    result = train_config(
        {"model": {"dropout": 0.3}, "train": {"epochs": 3, "mc_dropout": {"samples": 10}}}, tmp_path
    )
    mc = json.loads((result.run_dir / runs.METRICS_FILE).read_text())["mc_dropout"]
    assert mc["samples"] == 10 and mc["split"] == "validation"
    assert 0.0 < mc["accuracy"] <= 1.0 and mc["single_draw_accuracy_std"] > 0.0
    assert mc["probability_std"] > 0.0
    assert mc["plain"]["accuracy"] == pytest.approx(
        result.metrics["final"]["val_accuracy"], abs=1e-6
    )


def test_transfer_learning_reuses_and_freezes_layers(tmp_path):
    source = train_config({"name": "source", "model": {"hidden_layers": 2, "units": 16}}, tmp_path)
    reused = train_config(
        {
            "name": "target",
            "model": {
                "hidden_layers": 3,
                "units": 16,
                "init_from": {"run": str(source.run_dir), "layers": 2, "trainable": False},
            },
            "train": {"epochs": 2},
        },
        tmp_path,
    )
    before = load_model(source)
    after = load_model(reused)
    for name in ("hidden_1", "hidden_2"):
        for old, new in zip(
            before.get_layer(name).get_weights(), after.get_layer(name).get_weights(), strict=True
        ):
            assert np.array_equal(old, new)
    assert not np.array_equal(
        before.get_layer("output").get_weights()[0].shape, (0,)
    )  # the output layer is new and trained
    record = info(reused)["init_from"]
    assert record["copied"] == ["hidden_1", "hidden_2"] and record["trainable"] is False
    params = json.loads((reused.run_dir / runs.PARAMS_FILE).read_text())
    frozen = {row["name"] for row in params["layers"] if row.get("frozen")}
    assert frozen == {"hidden_1", "hidden_2"}


def test_transfer_learning_with_mismatched_shapes_is_a_clear_error(tmp_path):
    source = train_config({"name": "source"}, tmp_path / "a")
    with pytest.raises(ConfigError, match="hidden_1 has weights"):
        train_config(
            {"model": {"units": 32, "init_from": {"run": str(source.run_dir)}}}, tmp_path / "b"
        )
    with pytest.raises(ConfigError, match="not a dnn-lab run directory"):
        train_config({"model": {"init_from": {"run": "/etc"}}}, tmp_path / "c")
    (source.run_dir / runs.MODEL_FILE).unlink()
    with pytest.raises(ConfigError, match="has no model.keras"):
        train_config({"model": {"init_from": {"run": str(source.run_dir)}}}, tmp_path / "c")
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_tensorboard_logs_are_written(tmp_path):
    result = train_config({"train": {"tensorboard": True, "epochs": 1}}, tmp_path)
    events = list((result.run_dir / runs.TENSORBOARD_DIR).rglob("events.out.tfevents.*"))
    assert events and all(event.stat().st_size > 0 for event in events)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"train": {"schedule": {"kind": "exponential"}}}, "needs train.schedule.decay_rate"),
        ({"train": {"schedule": {"kind": "exponental"}}}, "did you mean 'exponential'"),
        (
            {"train": {"schedule": {"kind": "piecewise", "boundaries": [2], "values": [0.1]}}},
            "one more entry",
        ),
        ({"model": {"dropout": 1.0}}, "model.dropout"),
        ({"model": {"l2": -0.1}}, "model.l2"),
        ({"model": {"max_norm": 0}}, "model.max_norm"),
        ({"model": {"batch_norm": "middle"}}, "allowed: none, before, after"),
        ({"model": {"dropout_kind": "beta"}}, "allowed: standard, alpha"),
        ({"model": {"layers": [{"unit": 5}]}}, "model.layers.0.unit: unknown key"),
        (
            {"model": {"activation": {"name": "leaky_relu", "slope": 0.1}}},
            "did you mean 'negative_slope'",
        ),
        ({"train": {"optimizer": {"name": "sgd", "clipnorm": "big"}}}, "must be a number"),
        ({"train": {"optimizer": {"name": "sgd", "momentum": -1.0}}}, None),
        ({"train": {"early_stopping": {"patience": 0}}}, "train.early_stopping.patience"),
        ({"train": {"mc_dropout": {"samples": 1}}}, "train.mc_dropout.samples"),
        ({"model": {"init_from": {"layers": 1}}}, "model.init_from.run: required key"),
    ],
)
def test_bad_technique_values_are_config_errors(extra, expected):
    if expected is None:  # Keras itself rejects it when the optimizer is built
        from dnn_lab.training.optimizer import build_optimizer

        with pytest.raises(ConfigError, match="train.optimizer"):
            build_optimizer(validate_config(merge(TINY, extra)).train, 10)
        return
    with pytest.raises(ConfigError, match=expected):
        validate_config(merge(TINY, extra))


def test_a_monitor_that_is_never_recorded_is_an_error():
    from dnn_lab.config.head import resolve_head

    config = validate_config(merge(TINY, {"train": {"early_stopping": {"monitor": "val_acc"}}}))
    with pytest.raises(ConfigError, match="did you mean 'val_accuracy'"):
        resolve_head(config, "multiclass", 10)
