"""``model.init_from: runs/<run>``: the short form of transfer learning, validated and trained."""

from __future__ import annotations

import json

import pytest

from dnn_lab.config.loading import validate_config
from dnn_lab.errors import ConfigError
from dnn_lab.store import runs
from tests.conftest import TINY, merge, train_config


def test_a_plain_path_means_every_fitting_layer_trainable():
    config = validate_config(merge(TINY, {"model": {"init_from": "runs/pretrained"}}))
    assert config.to_dict()["model"]["init_from"] == {
        "run": "runs/pretrained",
        "layers": "auto",
        "trainable": True,
    }
    full = validate_config(merge(TINY, {"model": {"init_from": {"run": "r", "layers": 2}}}))
    assert full.model.init_from.layers == 2 and full.model.init_from.trainable is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "model.init_from.run: string should have at least 1 character"),
        (5, "model.init_from: expected a run directory, or a mapping"),
        ({"run": "r", "layers": "all"}, "model.init_from.layers: expected a number of hidden"),
        ({"run": "r", "layers": 0}, "model.init_from.layers: expected a number of hidden"),
    ],
)
def test_bad_init_from_values(value, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_config(merge(TINY, {"model": {"init_from": value}}))


def test_the_short_form_reuses_the_leading_layers_that_fit(tmp_path):
    source = train_config(
        {
            "name": "source",
            "model": {"hidden_layers": 2, "units": [16, 16]},
            "train": {"epochs": 1},
        },
        tmp_path / "a",
    )
    assert source.status == "completed", source.message
    # hidden_1 (64 -> 16) fits; hidden_2 is 16 -> 8 here, 16 -> 16 there: reuse stops there
    target = train_config(
        {
            "name": "target",
            "model": {"hidden_layers": 2, "units": [16, 8], "init_from": str(source.run_dir)},
            "train": {"epochs": 1},
        },
        tmp_path / "b",
    )
    assert target.status == "completed", target.message
    record = json.loads((target.run_dir / runs.RUN_FILE).read_text())["init_from"]
    assert record == {
        "run": str(source.run_dir),
        "layers": 1,
        "trainable": True,
        "requested": "auto",
        "copied": ["hidden_1"],
    }
    params = json.loads((target.run_dir / runs.PARAMS_FILE).read_text())
    assert not any(row.get("frozen") for row in params["layers"])  # trainable: nothing frozen

    with pytest.raises(ConfigError, match="no hidden layer of the source run fits"):
        train_config({"model": {"units": 32, "init_from": str(source.run_dir)}}, tmp_path / "c")
