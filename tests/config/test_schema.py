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
    from dnn_lab.data.prepare import task_of
    from dnn_lab.training.head import resolve_head

    config = load_config(path)
    info = (
        task_of(config.data, config.seed)
        if config.data.dataset not in ("fashion_mnist", "mnist")
        else ("multiclass", 10)
    )
    resolve_head(config, *info)
