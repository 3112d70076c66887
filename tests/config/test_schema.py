"""Config validation: every error names the key path, what was received and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnn_lab.config.loading import apply_overrides, load_config, parse_override, validate_config
from dnn_lab.errors import ConfigError, did_you_mean
from tests.conftest import TINY, merge, write_yaml


def error_for(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(merge(TINY, data))
    return str(caught.value)


def test_defaults_resolve_to_the_notes_recipe():
    config = validate_config({})
    assert config.data.dataset == "digits"
    assert config.data.validation_split == 0.2
    assert config.model.hidden_layers == 1 and config.model.units == 100
    assert config.model.activation == "relu"
    assert config.train.optimizer == "adam" and config.train.batch_size == 32


def test_did_you_mean_is_one_hint_or_nothing():
    assert did_you_mean("rellu", ["relu", "tanh"]) == "; did you mean 'relu'?"
    assert did_you_mean("slope", ["negative_slope", "alpha"]) == "; did you mean 'negative_slope'?"
    assert did_you_mean("UNITS", ["units"], prefix="model.") == "; did you mean 'model.units'?"
    assert did_you_mean("zzz", ["relu", "tanh"]) == ""


def test_misspelt_activation_suggests_the_right_one():
    message = error_for({"model": {"activation": "rellu"}})
    assert "model.activation" in message
    assert "'rellu'" in message
    assert "did you mean 'relu'?" in message
    assert "leaky_relu" in message  # the allowed values are listed


def test_unknown_key_names_its_path_and_close_match():
    message = error_for({"model": {"unts": 10}})
    assert "model.unts: unknown key" in message
    assert "did you mean 'model.units'?" in message


def test_unknown_top_level_section():
    message = error_for({"trian": {}})
    assert "trian: unknown key" in message and "'train'" in message


def test_wrong_type_is_an_error_not_a_coercion():
    message = error_for({"train": {"epochs": "5"}})
    assert "train.epochs" in message and "'5'" in message


def test_out_of_range_values():
    assert "train.epochs" in error_for({"train": {"epochs": 0}})
    assert "data.validation_split" in error_for({"data": {"validation_split": 1.5}})
    assert "model.dropout" in error_for({"model": {"dropout": -0.1}})
    assert "train.batch_size" in error_for({"train": {"batch_size": -32}})


def test_literal_choices_list_the_allowed_values():
    message = error_for({"model": {"batch_norm": "befor"}})
    assert "model.batch_norm" in message
    assert "allowed: none, before, after" in message
    assert "did you mean 'before'?" in message


def test_optimizer_parameters_are_checked_against_keras():
    message = error_for({"train": {"optimizer": {"name": "sgd", "momentun": 0.9}}})
    assert "train.optimizer" in message and "did you mean 'momentum'?" in message
    message = error_for({"train": {"optimizer": "adamm"}})
    assert "did you mean 'adam'?" in message


def test_initializer_aliases_are_stored_canonically():
    config = validate_config({"model": {"initializer": "RandomNormal"}})
    assert config.model.initializer == "random_normal"
    config = validate_config({"model": {"initializer": {"name": "random_normal", "stddev": 1.0}}})
    assert config.model.initializer == {"name": "random_normal", "stddev": 1.0}
    assert "did you mean 'he_normal'?" in error_for({"model": {"initializer": "he_normall"}})


def test_unknown_dataset_and_loss():
    assert "did you mean 'digits'?" in error_for({"data": {"dataset": "digit"}})
    assert "train.loss" in error_for({"train": {"loss": "sparse_categorical_crossentropyy"}})


def test_width_list_sets_the_layer_count():
    config = validate_config({"model": {"units": [300, 100]}})
    assert config.model.hidden_layers == 2
    message = error_for({"model": {"hidden_layers": 3, "units": [300, 100]}})
    assert "model.units" in message and "model.hidden_layers" in message


def test_several_problems_are_reported_together():
    message = error_for({"model": {"activation": "rellu"}, "train": {"epochs": 0}})
    assert "model.activation" in message and "train.epochs" in message


def test_overrides_are_parsed_as_yaml_and_validated(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", TINY)
    config = load_config(
        path,
        [
            "train.epochs=3",
            "model.units=[64,32]",
            "train.optimizer=sgd",
            "train.optimizer.momentum=0.9",
        ],
    )
    assert config.train.epochs == 3
    assert config.model.units == [64, 32] and config.model.hidden_layers == 2
    assert config.train.optimizer == {"name": "sgd", "momentum": 0.9}
    with pytest.raises(ConfigError, match="train.epocs: unknown key; did you mean 'train.epochs'"):
        load_config(path, ["train.epocs=3"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(path, ["train.epochs"])


def test_override_into_a_scalar_is_an_error():
    with pytest.raises(ConfigError, match="seed is 7, not a section"):
        apply_overrides(merge(TINY, {}), ["seed.value=1"])


def test_parse_override_keeps_lists_whole():
    assert parse_override("model.units=[128,64]") == (["model", "units"], [128, 64])
    assert parse_override("train.optimizer=adam") == (["train", "optimizer"], "adam")


def test_config_name_defaults_to_the_file_stem(tmp_path):
    data = merge(TINY, {})
    del data["name"]
    config = load_config(write_yaml(tmp_path / "my_study.yaml", data))
    assert config.name == "my_study"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the config is empty"),
        ("- a\n- b\n", "a config is a mapping"),
        ("model: {units: 5\n", "not valid YAML"),
        ("seed: 1\nseed: 2\n", "duplicate key 'seed'"),
        ("seed: !!python/object/apply:os.system ['echo hi']\n", "not valid YAML"),
    ],
)
def test_malformed_files(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_alias_bomb_is_refused(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for index in range(1, 8):
        refs = ",".join([f"*{chr(96 + index)}"] * 10)
        lines.append(f"{chr(97 + index)}: &{chr(97 + index)} [{refs}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="alias bomb"):
        load_config(path)


def test_non_utf8_and_missing_files(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_resolved_yaml_round_trips(tmp_path):
    config = validate_config(merge(TINY, {"model": {"hidden_layers": 2, "units": [32, 16]}}))
    path = tmp_path / "resolved.yaml"
    path.write_text(config.to_yaml(), encoding="utf-8")
    assert load_config(path) == config


CONFIGS = sorted((Path(__file__).parents[2] / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    from dnn_lab.config.head import resolve_head
    from dnn_lab.data.prepare import task_of

    config = load_config(path)
    info = (
        task_of(config.data, config.seed)
        if config.data.dataset not in ("fashion_mnist", "mnist")
        else ("multiclass", 10)
    )
    resolve_head(config, *info)


# ---------------------------------------------------------------- non-finite and nonsensical


def float_fields(model=None, path=()):
    """Every float-valued key of the schema, as a key path (a list of floats counts)."""
    import typing

    from pydantic import BaseModel

    from dnn_lab.config.schema import Config

    model = model or Config
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = typing.get_args(annotation) or (annotation,)
        flat = [a for arg in args for a in (typing.get_args(arg) or (arg,))]
        if float in flat:
            yield (*path, name)
        for arg in flat:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from float_fields(arg, (*path, name))


# what a section needs before one of its keys can be tried
SECTION_BASES = {
    ("train", "schedule"): {"kind": "inverse_time", "decay_rate": 0.5, "decay_epochs": 1},
    ("model", "layers"): {"units": 4},
}


def config_with(path: tuple[str, ...], value) -> dict:
    data: dict = {}
    node = data
    for depth, part in enumerate(path[:-1]):
        base = dict(SECTION_BASES.get(path[: depth + 1], {}))
        if path[: depth + 1] == ("model", "layers"):
            node[part] = [base]
            node = base
            continue
        node = node.setdefault(part, base)
    node[path[-1]] = [0.1, value] if path[-1] == "values" else value
    if path[:2] == ("train", "schedule") and path[-1] in ("values", "boundaries"):
        node.update(kind="piecewise", boundaries=[1])
    return data


FLOAT_KEYS = sorted(float_fields())


def test_the_float_keys_are_all_found():
    assert ("model", "l2") in FLOAT_KEYS and ("model", "layers", "dropout") in FLOAT_KEYS
    assert ("train", "schedule", "values") in FLOAT_KEYS and len(FLOAT_KEYS) >= 18


@pytest.mark.parametrize("path", FLOAT_KEYS, ids=".".join)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=repr)
def test_every_float_refuses_nan_and_infinity(path, value):
    message = error_for(config_with(path, value))
    shown = ".".join(p if p != "layers" else "layers.0" for p in path)
    assert shown in message and repr(value) in message, message


def test_yaml_infinity_is_refused_before_keras_sees_it(tmp_path):
    from typer.testing import CliRunner

    from dnn_lab.cli import app

    path = tmp_path / "inf.yaml"
    path.write_text("model:\n  l2: .inf\ntrain:\n  optimizer: {name: sgd, learning_rate: .nan}\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "model.l2: input should be a finite number; received inf" in result.output
    assert "train.optimizer.learning_rate" in result.output and "nan" in result.output


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"train": {"optimizer": {"name": "sgd", "learning_rate": -0.1}}},
            "train.optimizer.learning_rate: must be a number > 0; received -0.1",
        ),
        (
            {"train": {"optimizer": {"name": "adam", "learning_rate": 0}}},
            "train.optimizer.learning_rate: must be a number > 0; received 0",
        ),
        (
            {"train": {"optimizer": {"name": "adamw", "weight_decay": -0.01}}},
            "train.optimizer.weight_decay: must be a number >= 0; received -0.01",
        ),
        (
            {"train": {"schedule": {"kind": "exponential", "decay_rate": -0.5, "decay_epochs": 2}}},
            "train.schedule.decay_rate: input should be greater than 0; received -0.5",
        ),
        (
            {"train": {"schedule": {"kind": "power", "decay_epochs": -2}}},
            "train.schedule.decay_epochs: input should be greater than 0",
        ),
        (
            {"train": {"schedule": {"kind": "piecewise", "boundaries": [2], "values": [0.1, -1]}}},
            "train.schedule.values are learning rates and must all be > 0",
        ),
        (
            {"train": {"schedule": {"kind": "plateau", "min_lr": -1e-5}}},
            "train.schedule.min_lr: input should be greater than or equal to 0",
        ),
        (
            {"train": {"optimizer": {"name": "sgd", "momentum": 1.5}}},
            "train.optimizer.momentum: must be a number in [0, 1]; received 1.5",
        ),
        (
            {"train": {"optimizer": {"name": "adam", "beta_1": 1.0}}},
            "train.optimizer.beta_1: must be a number in [0, 1); received 1.0",
        ),
        (
            {"train": {"optimizer": {"name": "rmsprop", "epsilon": 0}}},
            "train.optimizer.epsilon: must be a number > 0",
        ),
        (
            {"train": {"optimizer": {"name": "ftrl", "learning_rate_power": 0.5}}},
            "train.optimizer.learning_rate_power: must be a number <= 0",
        ),
        (
            {"train": {"optimizer": {"name": "sgd", "gradient_accumulation_steps": 1}}},
            "train.optimizer.gradient_accumulation_steps: must be an integer >= 2",
        ),
        (
            {"train": {"optimizer": {"name": "sgd", "nesterov": "yes"}}},
            "train.optimizer.nesterov: must be true or false; received 'yes'",
        ),
        (
            {"train": {"optimizer": {"name": "sgd", "clipnorm": 1.0, "clipvalue": 0.5}}},
            "train.optimizer: set one of clipnorm, clipvalue, global_clipnorm; received "
            "clipnorm and clipvalue",
        ),
        (
            {"model": {"initializer": {"name": "random_normal", "stddev": -0.05}}},
            "model.initializer.stddev: must be a number > 0; received -0.05",
        ),
        (
            {"model": {"initializer": {"name": "random_uniform", "minval": 1, "maxval": 0}}},
            "model.initializer.maxval: must be above minval",
        ),
        (
            {"model": {"initializer": {"name": "variance_scaling", "mode": "fanin"}}},
            "did you mean 'fan_in'?",
        ),
        ({"data": {"split_seed": -1}}, "data.split_seed: input should be greater than or equal"),
        (
            {
                "sweep": {
                    "search": "random",
                    "trials": 2,
                    "space": {"model.l2": {"uniform": [0, 1e999]}},
                }
            },
            "model.l2: uniform takes [low, high], two finite numbers",
        ),
        (  # an int beyond float range: refused like inf, not an OverflowError
            {
                "sweep": {
                    "search": "random",
                    "trials": 2,
                    "space": {"model.units": {"int": [1, 10**400]}},
                }
            },
            "model.units: int takes [low, high], two finite numbers",
        ),
    ],
)
def test_nonsensical_values_are_refused_naming_the_key(extra, expected):
    assert expected in error_for(extra)


def test_optimizer_settings_all_have_a_rule_and_floats_are_stored_as_floats():
    from dnn_lab.config import catalog
    from dnn_lab.config.names import OPTIMIZER_PARAMS

    assert {p for params in catalog.OPTIMIZERS.values() for p in params} <= set(OPTIMIZER_PARAMS)
    config = validate_config({"train": {"optimizer": {"name": "sgd", "momentum": 1}}})
    assert config.train.optimizer == {"name": "sgd", "momentum": 1.0}
    assert isinstance(config.train.optimizer["momentum"], float)  # Keras's SGD wants a float
