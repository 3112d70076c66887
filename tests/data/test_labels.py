"""Labels as users' files hold them: any integers, missing ones, IDs, text among numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.config.schema import DataConfig
from dnn_lab.data.prepare import prepare_data
from dnn_lab.errors import DataError
from tests.conftest import TINY, merge, quiet_console, write_yaml


def csv_file(tmp_path, header: str, rows: list[str], name: str = "d.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def prepare_csv(path: str, target: str = "y", **extra):
    return prepare_data(
        DataConfig.model_validate({"dataset": "csv", "path": path, "target": target, **extra}), 0
    )


def prepare_npz(tmp_path, x, y, **extra):
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    config = {"dataset": "npz", "path": str(tmp_path / "d.npz"), **extra}
    return prepare_data(DataConfig.model_validate(config), 0)


def test_years_as_labels_become_classes_with_their_mapping_recorded(tmp_path):
    rows = [f"{i},{i % 7},{2007 + i % 3}" for i in range(30)]
    data = prepare_csv(csv_file(tmp_path, "a,b,y", rows))
    assert data.task == "multiclass" and data.n_classes == 3
    assert data.class_names == ["2007", "2008", "2009"]
    assert set(np.unique(np.concatenate([data.y_train, data.y_val]))) == {0, 1, 2}
    assert data.summary()["label_mapping"] == {"2007": 0, "2008": 1, "2009": 2}


def test_a_huge_label_is_mapped_not_allocated(tmp_path):
    y = np.array([0, 1, 1e9] * 10)
    data = prepare_npz(tmp_path, np.random.default_rng(0).normal(size=(30, 3)), y)
    assert data.n_classes == 3 and data.summary()["label_mapping"]["1000000000"] == 2
    assert data.summary()["class_counts"]["train"] == [8, 8, 8]
    config = write_yaml(
        tmp_path / "c.yaml",
        merge(TINY, {"data": {"dataset": "npz", "path": str(tmp_path / "d.npz")}}),
    )
    result = CliRunner().invoke(app, ["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert "multiclass" in result.output


def test_minus_one_and_one_are_a_binary_task(tmp_path):
    data = prepare_npz(tmp_path, np.zeros((20, 2)), np.array([-1, 1] * 10))
    assert data.task == "binary" and data.summary()["label_mapping"] == {"-1": 0, "1": 1}
    assert set(data.y_train.reshape(-1)) == {0.0, 1.0}


def test_an_id_column_is_no_label_unless_the_task_says_regression(tmp_path):
    path = csv_file(tmp_path, "a,id", [f"{i % 5},{1000 + i}" for i in range(200)])
    with pytest.raises(DataError, match="column 'id' holds 200 distinct whole numbers in 200"):
        prepare_csv(path, "id")
    with pytest.raises(DataError, match="set data.task: regression"):
        prepare_csv(path, "id")
    with pytest.raises(DataError, match="most classes would have one sample"):
        prepare_csv(path, "id", task="multiclass")
    assert prepare_csv(path, "id", task="regression").task == "regression"
    names = csv_file(tmp_path, "a,who", [f"{i},user_{i}" for i in range(80)], "names.csv")
    with pytest.raises(DataError, match="80 distinct text values"):
        prepare_csv(names, "who")


def test_missing_labels_drop_their_rows_counted_and_said(tmp_path):
    rows = [f"{i},{['cat', 'dog'][i % 2]}" for i in range(20)] + ["20,", "21,NA", "22,n/a"]
    data = prepare_csv(csv_file(tmp_path, "a,y", rows))
    summary = data.summary()
    assert sum(summary["sizes"].values()) == 20 and summary["dropped"] == {"no_label": 3}
    assert summary["notes"] == [
        "left out 3 sample(s) with no label in column 'y' (line 22, 23, 24)"
    ]
    assert data.class_names == ["cat", "dog"]
    from dnn_lab.render.terminal import print_run_header

    console = quiet_console()
    totals = {"total": 1, "trainable": 1}
    print_run_header(console, "run", summary, totals, {"backend": "b", "kind": "cpu", "name": "c"})
    assert "note   left out 3 sample(s)" in console.file.getvalue()
    npz = prepare_npz(tmp_path, np.zeros((12, 2)), np.array([0.5, 1.5, np.nan] * 4))
    assert npz.task == "regression" and npz.dropped == {"no_label": 4}


def test_text_in_a_numeric_target_is_an_error_not_ranks_of_strings(tmp_path):
    rows = [f"{i},{i * 1.5}" for i in range(30)] + ["30,unknown"]
    path = csv_file(tmp_path, "a,price", rows)
    with pytest.raises(DataError, match="holds numbers and 1 text value.s. such as 'unknown'"):
        prepare_csv(path, "price")
    with pytest.raises(DataError, match="holds numbers and 1 text"):
        prepare_csv(path, "price", task="regression")
    mixed = csv_file(
        tmp_path, "a,y", [f"{i},{['1', '2', 'other'][i % 3]}" for i in range(30)], "m.csv"
    )
    data = prepare_csv(mixed, task="multiclass")  # class names that happen to look like numbers
    assert data.class_names == ["1", "2", "other"]


@pytest.mark.parametrize("value", ["3e38", "1e300", "-1e300"])
def test_numbers_beyond_float32_name_their_column(tmp_path, value):
    rows = [f"{i},{i},{i % 2}" for i in range(10)] + [f"1,{value},0"]
    with pytest.raises(DataError, match=re.escape(f"column 'b' holds {float(value):g} (line 12)")):
        prepare_csv(csv_file(tmp_path, "a,b,y", rows))
    rows = [f"{i},{i * 0.5}" for i in range(10)] + [f"1,{value}"]
    with pytest.raises(DataError, match="column 'price' holds .*float32"):
        prepare_csv(csv_file(tmp_path, "a,price", rows, "p.csv"), "price")
    x = np.zeros((10, 3))
    x[4, 2] = float(value)
    with pytest.raises(DataError, match="x_train feature 2 holds"):
        prepare_npz(tmp_path, x, np.arange(10) % 2)
