"""Tables through Arrow (#30): Parquet, big files, and data that means what it says (#29)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.config.schema import DataConfig
from dnn_lab.data.prepare import prepare_data
from dnn_lab.errors import DataError
from tests.conftest import train_config

COLOURS = ["red", "green", "blue"]


def rows(n: int = 60) -> list[str]:
    """size (with gaps), colour, weight, y: a small table of every kind of column."""
    return [
        f"{'' if i % 11 == 3 else i % 7},{COLOURS[i % 3]},{i * 0.25},{['cat', 'dog'][i % 2]}"
        for i in range(n)
    ]


def write_csv(path, header: str, lines: list[str]):
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def prepare(path, **extra):
    config = {"path": str(path), "target": "y", **extra}
    config.setdefault("dataset", "csv")
    return prepare_data(DataConfig.model_validate(config), 0)


def cli(*args: str, cwd=None, env=None, timeout: float = 120):
    """dnn-lab in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "dnn_lab", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


# ---------------------------------------------------------------- Parquet


def test_parquet_round_trip_gives_the_csv_arrays(tmp_path):
    import pandas as pd

    csv = write_csv(tmp_path / "t.csv", "size,colour,weight,y", rows())
    frame = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    frame.to_parquet(tmp_path / "t.parquet")
    from_csv = prepare(csv, missing="impute")
    # dataset left out: a .parquet path is parquet
    config = DataConfig.model_validate(
        {"path": str(tmp_path / "t.parquet"), "target": "y", "missing": "impute"}
    )
    assert config.dataset == "parquet"
    from_parquet = prepare_data(config, 0)
    assert np.array_equal(from_csv.x_train, from_parquet.x_train)
    assert np.array_equal(from_csv.y_val, from_parquet.y_val)
    assert from_parquet.class_names == ["cat", "dog"]
    features = from_parquet.summary()["features"]
    assert features["categorical"] == {"colour": ["blue", "green", "red"]}
    assert features["missing"]["cells"] == {"size": 6}


def test_parquet_messages_name_the_column_and_the_sample(tmp_path):
    import pyarrow as pa
    from pyarrow import parquet

    table = pa.table({"a": [1.0, 2.0, float("inf"), 4.0], "y": [0, 1, 0, 1]})
    parquet.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(DataError, match="sample 2, column 'a': NaN or infinite value"):
        prepare(tmp_path / "t.parquet", dataset="parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        prepare(write_csv(tmp_path / "x.parquet", "a,y", ["1,0"]))


def test_a_table_trains_from_parquet(tmp_path):
    import pandas as pd

    frame = pd.read_csv(write_csv(tmp_path / "t.csv", "size,colour,weight,y", rows()))
    frame.dropna().to_parquet(tmp_path / "t.parquet")  # with pandas' index as a column
    data = {"dataset": "parquet", "path": str(tmp_path / "t.parquet"), "target": "y"}
    result = train_config({"data": data}, tmp_path)
    assert result.status == "completed", result.message
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["data"]["dataset"] == "parquet" and info["data"]["input_shape"] == [5]


# ---------------------------------------------------------------- CSV as Arrow reads it


def test_lines_are_file_lines_across_blank_lines_and_quoted_newlines(tmp_path):
    lines = ["1,0", "", '"2",1', "3,0", ",,", "4,1", "x,0"]
    path = write_csv(tmp_path / "d.csv", "a,y", lines)
    with pytest.raises(DataError, match="line 8, column 'a': 'x' is not a number"):
        prepare(path)
    quoted = ['1,"cat"', '2,"do\ng"', "x,cat", *[f"{i},cat" for i in range(5)]]
    with pytest.raises(DataError, match="line 5, column 'a': 'x' is not a number"):
        prepare(write_csv(tmp_path / "q.csv", "a,y", quoted))


def test_text_after_the_first_block_is_found_with_its_line(tmp_path):
    """The stream infers a column's type from its first block; a later text is still found."""
    lines = [f"{i},{i % 2}" for i in range(200_000)] + ["oops,1"]
    path = write_csv(tmp_path / "d.csv", "a,y", lines)
    with pytest.raises(DataError, match="line 200002, column 'a': 'oops' is not a number"):
        prepare(path)


# ---------------------------------------------------------------- data that means what it says


def test_duplicate_column_names_are_refused_naming_them(tmp_path):
    path = write_csv(
        tmp_path / "d.csv", "y,a,b,c,y", [f"{i % 2},{i},1,2,{i % 3}" for i in range(20)]
    )
    with pytest.raises(DataError, match=r"duplicate column name\(s\): 'y' is column 1, 5"):
        prepare(path)
    import pyarrow as pa
    from pyarrow import parquet

    table = pa.Table.from_arrays(
        [pa.array([1, 2]), pa.array([0, 1]), pa.array([3, 4])], ["a", "y", "a"]
    )
    parquet.write_table(table, tmp_path / "d.parquet")
    with pytest.raises(DataError, match="'a' is column 1, 3"):
        prepare(tmp_path / "d.parquet")


def test_a_target_with_one_class_is_refused(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,y", [f"{i},cat" for i in range(30)])
    with pytest.raises(DataError, match=r"column 'y' holds one class \('cat'\) in all 30 samples"):
        prepare(path)
    np.savez(tmp_path / "d.npz", x_train=np.zeros((20, 2)), y_train=np.ones(20))
    with pytest.raises(DataError, match=r"y_train holds one class \('1'\)"):
        prepare(tmp_path / "d.npz", dataset="npz", task="binary")


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (np.zeros((200, 4)), np.zeros((200, 3, 2)), r"y_train has shape \(200, 3, 2\); labels are"),
        (np.zeros((20, 2)) + 1j, np.arange(20) % 2, "x_train holds complex numbers"),
        (np.zeros((20, 2)), (np.arange(20) % 2) + 0j, "y_train holds complex numbers"),
    ],
    ids=["labels-3d", "complex-x", "complex-y"],
)
def test_arrays_that_cannot_be_trained_on_are_refused(tmp_path, x, y, expected):
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    with pytest.raises(DataError, match=expected):
        prepare(tmp_path / "d.npz", dataset="npz")


def test_an_all_missing_column_is_left_out_and_run_json_lists_what_was_trained(tmp_path):
    lines = [f"{i % 5},,{COLOURS[i % 3]},{i % 2}" for i in range(60)]
    path = write_csv(tmp_path / "d.csv", "size,empty,colour,y", lines)
    result = train_config(
        {"data": {"dataset": "csv", "path": str(path), "target": "y", "missing": "impute"}},
        tmp_path / "runs",
    )
    assert result.status == "completed", result.message
    data = json.loads((result.run_dir / "run.json").read_text())["data"]
    features = data["features"]
    assert features["numeric"] == ["size"] and features["left_out"] == {"empty": "it has no values"}
    width = len(features["numeric"]) + sum(len(c) for c in features["categorical"].values())
    assert data["input_shape"] == [width] == [4]
    assert "missing" not in features  # the one column with gaps is not trained on


def test_a_column_empty_in_the_training_split_is_not_trained_on(tmp_path):
    from dnn_lab.data import tabular

    cells = np.array([["", "a"], ["", "b"], ["1", "a"], ["2", "b"]])
    table = tabular.read_table(
        cells, ["n", "c"], where="f", lines=None, categorical="auto", missing="impute"
    )
    encoder = tabular.fit_encoder(table, table.values[:2], impute=True)
    assert tabular.transform(encoder, table.values).shape == (4, 2)  # c's two categories
    info = tabular.describe(table, encoder, impute=True)
    assert info["numeric"] == [] and info["left_out"] == {
        "n": "it has no values in the training split"
    }


# ---------------------------------------------------------------- the run records its file


def test_data_path_is_recorded_absolute_with_size_and_hash(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data" / "x.csv", "a,b,y", [f"{i},{i % 3},{i % 2}" for i in range(40)])
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = train_config(
        {"data": {"dataset": "csv", "path": "../data/x.csv", "target": "y"}}, tmp_path / "runs"
    )
    assert result.status == "completed", result.message
    recorded = yaml.safe_load((result.run_dir / "config.yaml").read_text())["data"]
    data_file = tmp_path / "data" / "x.csv"
    assert recorded["path"] == str(data_file.resolve())
    assert recorded["path_bytes"] == data_file.stat().st_size
    import hashlib

    assert recorded["path_sha256"] == hashlib.sha256(data_file.read_bytes()).hexdigest()
    # repeated from another folder: the same file is found and accepted
    config = str(result.run_dir / "config.yaml")
    assert cli("validate", config, cwd=tmp_path).returncode == 0
    with data_file.open("a") as handle:
        handle.write("40,1,0\n")
    changed = cli("validate", config, cwd=tmp_path)
    assert changed.returncode == 2 and "Traceback" not in changed.stderr
    assert "x.csv changed since this config recorded it" in changed.stderr
    accepted = cli(
        "validate", config, "--set", "data.path_sha256=null", "--set", "data.path_bytes=null"
    )
    assert accepted.returncode == 0, accepted.stderr


# ---------------------------------------------------------------- files that cannot hurt


@pytest.mark.parametrize("dataset", ["csv", "npz", "parquet"])
def test_a_fifo_or_a_device_is_refused_at_once(tmp_path, dataset):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO (named pipe)"), ("/dev/zero", "a character device")):
        config = {"dataset": dataset, "path": str(path), "target": "y"}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({"data": config}))
        done = cli("validate", str(tmp_path / "c.yaml"), timeout=60)  # a hang fails here
        assert done.returncode == 2, done.stderr
        assert f"{path} is {kind}, not a data file" in done.stderr
        assert "Traceback" not in done.stderr


def forged_npy(shape: tuple[int, ...], payload: bytes) -> bytes:
    import io

    from numpy.lib import format as npy

    buffer = io.BytesIO()
    npy.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + payload


def test_an_npz_header_claiming_more_than_it_holds_is_refused_unread(tmp_path):
    import zipfile

    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", forged_npy((2_000_000_000, 8), b"\0" * 64))
        archive.writestr("y_train.npy", forged_npy((8,), b"\0" * 64))
    with pytest.raises(
        DataError,
        match=r"array x_train declares shape \(2000000000, 8\) of "
        r"float64 \(128 GB\), but holds 192 bytes",
    ):
        prepare(path, dataset="npz")


def test_an_npz_larger_than_memory_is_refused_with_the_numbers(tmp_path, monkeypatch):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((1000, 50)), y_train=np.arange(1000) % 2)
    monkeypatch.setenv("DNN_LAB_MEMORY_LIMIT", "100K")
    with pytest.raises(
        DataError,
        match=r"arrays of 408 kB: needs about 408 kB of memory, and "
        r"102 kB is available \(DNN_LAB_MEMORY_LIMIT is set\)",
    ):
        prepare(tmp_path / "d.npz", dataset="npz")


def test_an_idx_header_is_checked_against_the_file_and_memory(tmp_path, monkeypatch):
    import gzip
    import struct

    from dnn_lab.data.loaders import read_idx

    plain = tmp_path / "images-idx3-ubyte"
    plain.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 60000, 28, 28) + b"\0" * 10)
    with pytest.raises(
        DataError,
        match=r"declares shape \(60000, 28, 28\) of uint8 \(47 MB\), "
        r"but the file is 26 bytes",
    ):
        read_idx(plain)
    huge = tmp_path / "huge.gz"
    with gzip.open(huge, "wb") as handle:
        handle.write(bytes([0, 0, 0x0E, 2]) + struct.pack(">2I", 4_000_000_000, 8) + b"\0" * 8)
    with pytest.raises(DataError, match=r"\(256 GB\), but the file is .* compressed"):
        read_idx(huge)
    monkeypatch.setenv("DNN_LAB_MEMORY_LIMIT", "1K")
    fits_file = tmp_path / "small.gz"
    with gzip.open(fits_file, "wb") as handle:
        handle.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 5000) + b"\0" * 5000)
    with pytest.raises(DataError, match="needs about 5 kB of memory, and 1.02 kB is available"):
        read_idx(fits_file)


def test_a_table_too_large_for_memory_is_refused_before_loading(tmp_path):
    lines = [f"{i},{i % 7},{i * 0.5},{i % 3},{i % 2}" for i in range(60_000)]
    path = write_csv(tmp_path / "d.csv", "a,b,c,d,y", lines)
    assert path.stat().st_size > (1 << 20)  # the row count is estimated from the file's head
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"data": {"dataset": "csv", "path": str(path), "target": "y"}})
    )
    done = cli(
        "train",
        str(config),
        "--runs-dir",
        str(tmp_path / "runs"),
        env={"DNN_LAB_MEMORY_LIMIT": "2M"},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    found = re.search(
        r"d\.csv: about ([\d,]+) rows x 5 columns, ([\d.]+ [kM]B) as float32", done.stderr
    )
    assert found, done.stderr
    assert abs(int(found.group(1).replace(",", "")) - 60_000) < 3_000
    assert "needs about" in done.stderr and "2.1 MB is available" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_model_too_large_for_memory_is_refused_before_it_is_built(tmp_path, make_config):
    config = make_config({"model": {"hidden_layers": 2, "units": [60000, 60000]}})
    result = CliRunner().invoke(
        app,
        ["train", str(config), "--runs-dir", str(tmp_path / "runs")],
        env={"DNN_LAB_MEMORY_LIMIT": "16G"},
    )
    assert result.exit_code == 2, result.output
    assert "the model has about 3,604,560,010 parameters" in result.output
    assert "14.4 GB as float32" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()
    checked = CliRunner().invoke(
        app, ["validate", str(config)], env={"DNN_LAB_MEMORY_LIMIT": "16G"}
    )
    assert checked.exit_code == 2, checked.output
    assert "the model has about 3,604,560,010 parameters" in checked.output
