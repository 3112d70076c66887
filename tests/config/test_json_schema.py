"""The JSON Schema editors read: generated from the models, committed, and as strict as they are."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.config import catalog
from dnn_lab.config.json_schema import DESCRIPTIONS, SCHEMA_FILE, config_schema, render_schema
from dnn_lab.config.loading import parse_yaml
from dnn_lab.config.schema import Config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
CONFIG_FILES = sorted(CONFIGS.rglob("*.yaml"))


@pytest.fixture(scope="module")
def validator():
    schema = config_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator, data: dict) -> list[str]:
    return [error.message for error in validator.iter_errors(data)]


def test_the_committed_schema_is_the_generated_one():
    committed = (CONFIGS / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render_schema(), (
        f"configs/{SCHEMA_FILE} is stale: run dnn-lab schema > configs/{SCHEMA_FILE}"
    )


def test_the_schema_command_prints_it():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == config_schema()


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_config_validates_and_names_the_schema(validator, path):
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    target = first.removeprefix("# yaml-language-server: $schema=")
    assert target != first, f"{path.name} lacks the yaml-language-server line"
    assert (path.parent / target).resolve() == (CONFIGS / SCHEMA_FILE).resolve()
    assert errors(validator, parse_yaml(text, str(path))) == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"model": {"unts": 64}}, "'unts' was unexpected"),
        ({"trian": {}}, "'trian' was unexpected"),
        ({"train": {"epochs": "5"}}, "'5' is not of type 'integer'"),
        ({"train": {"epochs": 0}}, "0 is less than the minimum of 1"),
        ({"data": {"scaling": "zscore"}}, "'zscore' is not one of"),
        ({"data": {"dataset": "cifar"}}, "'cifar' is not one of"),
        ({"model": {"activation": "rellu"}}, "is not valid under any of the given schemas"),
        ({"train": {"optimizer": {"name": "sgd", "momentm": 0.9}}}, "is not valid under any"),
        ({"train": {"optimizer": {"name": "sgd", "momentum": "high"}}}, "is not valid under any"),
        ({"train": {"loss": "crossentropy"}}, "'crossentropy' is not one of"),
        ({"train": {"metrics": ["acc"]}}, "is not valid under any"),
    ],
)
def test_a_typo_or_a_wrong_type_fails(validator, config, expected):
    found = errors(validator, config)
    assert any(expected in message for message in found), found


def test_names_and_parameters_come_from_the_catalog(validator):
    assert errors(validator, {"model": {"activation": "leaky_relu"}}) == []
    assert errors(validator, {"model": {"initializer": "xavier_uniform"}}) == []  # an alias
    assert (
        errors(validator, {"model": {"activation": {"name": "leaky_relu", "negative_slope": 0.1}}})
        == []
    )
    # a parameter of another activation is not one of leaky_relu's
    assert errors(validator, {"model": {"activation": {"name": "leaky_relu", "alpha": 0.1}}})
    assert errors(validator, {"model": {"layers": [{"units": 8, "activation": "tanh"}]}}) == []
    definitions = config_schema()["definitions"]
    names = definitions["optimizer"]["anyOf"][0]["enum"]
    assert names == list(catalog.OPTIMIZERS)
    assert set(definitions["activation"]["anyOf"][0]["enum"]) == set(catalog.ACTIVATIONS)


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> dict:
    seen[model.__name__] = model
    for info in model.model_fields.values():
        stack = [info.annotation]
        while stack:
            annotation = stack.pop()
            stack.extend(getattr(annotation, "__args__", ()))
            is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
            if is_model and annotation.__name__ not in seen:
                _models(annotation, seen)
    return seen


def test_every_key_has_a_description_and_none_is_stale():
    fields = {
        (name, field) for name, model in _models(Config, {}).items() for field in model.model_fields
    }
    assert sorted(fields - set(DESCRIPTIONS)) == [], "keys without a description"
    assert sorted(set(DESCRIPTIONS) - fields) == [], "descriptions of keys that are gone"


def test_defaults_are_the_models_defaults():
    properties = config_schema()["properties"]
    assert properties["seed"]["default"] == Config().seed
    assert properties["train"]["properties"]["batch_size"]["default"] == 32
    assert properties["model"]["properties"]["activation"]["default"] == "relu"
    assert "description" in properties["model"]["properties"]["units"]


def test_a_sweep_section_is_checked_too(validator):
    good = {"sweep": {"grid": {"model.units": [16, 32]}, "repeats": 2}}
    assert errors(validator, good) == []
    bad = copy.deepcopy(good)
    bad["sweep"]["space"] = {"model.units": {"normal": [1, 2]}}
    assert errors(validator, bad)
