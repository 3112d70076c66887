"""Files as they come: separators, BOM, gzip, other encodings, the wrong numpy format."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from dnn_lab.config.schema import DataConfig
from dnn_lab.data.prepare import prepare_data
from dnn_lab.errors import DataError

ROWS = [f"{i},{i % 5 * 0.5},{['cat', 'dog'][i % 2]}" for i in range(20)]


def load(path, dataset="csv", target="y"):
    config = {"dataset": dataset, "path": str(path)}
    if dataset == "csv":
        config["target"] = target
    return prepare_data(DataConfig.model_validate(config), 0)


@pytest.mark.parametrize("sep", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_the_separator_is_detected(tmp_path, sep):
    text = "\n".join(["a,b,y", *ROWS]).replace(",", sep) + "\n"
    (tmp_path / "d.csv").write_text(text, encoding="utf-8")
    data = load(tmp_path / "d.csv")
    assert data.input_shape == (2,) and data.class_names == ["cat", "dog"]


def test_a_bom_and_gzip_are_read(tmp_path):
    text = "\n".join(["a,b,y", *ROWS]) + "\n"
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load(tmp_path / "bom.csv").input_shape == (2,)
    with gzip.open(tmp_path / "d.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write(text)
    assert load(tmp_path / "d.csv.gz").input_shape == (2,)


def test_latin1_bytes_are_a_clear_error(tmp_path):
    text = "\n".join(["a,b,y", *ROWS[:5], "1,2,caf\xe9"]) + "\n"
    (tmp_path / "d.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text: byte 0xe9 on line 7 .a Latin-1"):
        load(tmp_path / "d.csv")


def test_a_decimal_comma_gets_a_hint(tmp_path):
    (tmp_path / "d.csv").write_text("a;b;y\n1;2,5;0\n2;3,5;1\n")
    with pytest.raises(DataError, match="column 'b': '2,5' is not a number .a decimal comma"):
        load(tmp_path / "d.csv")


def test_npy_or_npz_in_the_wrong_place_is_a_clear_error(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))
    with pytest.raises(DataError, match=r"a single \.npy array of shape \(4, 2\), not an \.npz"):
        load(tmp_path / "x.npy", dataset="npz")
    np.savez(tmp_path / "d.npz", x_train=np.zeros((4, 2)), y_train=np.zeros(4))
    with pytest.raises(DataError, match="a zip archive .an .npz.., not CSV text"):
        load(tmp_path / "d.npz")
