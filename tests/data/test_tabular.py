"""CSV tables with text columns, missing values, dates and IDs (#18.1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dnn_lab.config.loading import validate_config
from dnn_lab.config.schema import DataConfig
from dnn_lab.data import tabular
from dnn_lab.data.prepare import prepare_data
from dnn_lab.errors import ConfigError, DataError
from tests.conftest import TINY, merge, train_config

COLOURS = ["red", "green", "blue"]


def write(tmp_path, header: str, rows: list[str]) -> str:
    path = tmp_path / "t.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def prepare(path: str, **extra):
    config = {"dataset": "csv", "path": path, "target": "y", "scaling": "none", **extra}
    return prepare_data(DataConfig.model_validate(config), 0)


def pets(n: int = 40, gap: str = "") -> list[str]:
    return [
        f"{i % 7 if i % 9 or not gap else gap},{COLOURS[i % 3]},{['cat', 'dog'][i % 2]}"
        for i in range(n)
    ]


def test_text_columns_are_one_hot_encoded_and_recorded(tmp_path):
    data = prepare(write(tmp_path, "size,colour,y", pets()))
    assert data.input_shape == (4,)  # size + three colours
    onehot = data.x_train[:, 1:]
    assert set(onehot.sum(axis=1)) == {1.0}
    features = data.summary()["features"]
    assert features["numeric"] == ["size"]
    assert features["categorical"] == {"colour": ["blue", "green", "red"]}


def test_categorical_names_the_columns_to_encode(tmp_path):
    rows = [f"{1000 + i % 4},{COLOURS[i % 3]},{i % 2}" for i in range(40)]
    path = write(tmp_path, "zip,colour,y", rows)
    data = prepare(path, categorical=["zip", "colour"])  # a zip code is a category
    assert data.input_shape == (7,)
    with pytest.raises(DataError, match="column 'colour' holds text such as 'red'; name it in"):
        prepare(path, categorical=["zip"])
    with pytest.raises(DataError, match="no feature column 'colur'.*did you mean 'colour'"):
        prepare(path, categorical=["colur"])


def test_table_options_are_for_csv():
    with pytest.raises(ConfigError, match="data.categorical is for data.dataset: csv"):
        validate_config(merge(TINY, {"data": {"categorical": ["a"]}}))
    with pytest.raises(ConfigError, match="data.categorical: expected auto or a list of column"):
        validate_config(merge(TINY, {"data": {"dataset": "csv", "categorical": "colour"}}))
    with pytest.raises(ConfigError, match="data.missing: received 'fill'"):
        validate_config(merge(TINY, {"data": {"dataset": "csv", "missing": "fill"}}))


def test_missing_values_error_drop_or_impute(tmp_path):
    path = write(tmp_path, "size,colour,y", pets(gap="NA"))  # rows 0, 9, 18, 27, 36
    with pytest.raises(DataError, match="line 2, column 'size' has no value .5 missing"):
        prepare(path)
    dropped = prepare(path, missing="drop")
    summary = dropped.summary()
    assert sum(summary["sizes"].values()) == 35 and summary["dropped"] == {"missing_value": 5}
    assert "left out 5 sample(s) with a missing feature value" in summary["notes"]
    imputed = prepare(path, missing="impute")
    missing = imputed.summary()["features"]["missing"]
    assert missing["cells"] == {"size": 5} and missing["handled"] == "imputed"
    assert sum(imputed.summary()["sizes"].values()) == 40
    assert np.isfinite(imputed.x_train).all()


def test_imputation_is_fit_on_the_rows_it_is_given():
    cells = np.array([["1", "a"], ["2", "a"], ["3", "b"], ["", ""], ["100", "b"], ["200", "b"]])
    table = tabular.read_table(
        cells, ["n", "c"], where="f", lines=None, categorical="auto", missing="impute"
    )
    encoder = tabular.fit_encoder(table, table.values[:4], impute=True)  # the training rows
    filled = tabular.describe(table, encoder, impute=True)["missing"]["filled_with"]
    assert filled == {"n": 2.0, "c": "a"}  # not 3.0 and 'b', as all six rows would give


def test_dates_and_ids_are_left_out_with_a_note(tmp_path):
    rows = [f"2024-03-{i % 28 + 1:02d},user{i},{i % 5},{['cat', 'dog'][i % 2]}" for i in range(30)]
    data = prepare(write(tmp_path, "when,who,size,y", rows))
    assert data.input_shape == (1,)
    summary = data.summary()
    assert set(summary["features"]["left_out"]) == {"when", "who"}
    assert any("left out column 'when': it holds dates" in n for n in summary["notes"])
    assert any("left out column 'who': 30 distinct text values" in n for n in summary["notes"])


def test_a_table_with_categories_trains_and_records_its_columns(tmp_path):
    path = write(tmp_path, "size,colour,y", pets(60, gap="NA"))
    result = train_config(
        {"data": {"dataset": "csv", "path": path, "target": "y", "missing": "impute"}},
        tmp_path / "runs",
    )
    assert result.status == "completed", result.message
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["data"]["features"]["categorical"]["colour"] == ["blue", "green", "red"]
    assert info["data"]["input_shape"] == [4]
