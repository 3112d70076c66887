"""Datasets and tasks: every loader, splits, scaling without leakage, and bad data."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.config.schema import DataConfig
from dnn_lab.data.loaders import IDX_FILES, read_idx
from dnn_lab.data.prepare import infer_task, prepare_data
from dnn_lab.errors import DataError
from tests.conftest import train_config


def write_idx(path, array: np.ndarray) -> None:
    """Write an array in the IDX format MNIST ships in (big-endian header, gzip)."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    with gzip.open(path, "wb") as handle:
        handle.write(header + body)


def write_mnist_like(folder, n_train=120, n_test=40, seed=0) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 10,
    }
    for key, name in IDX_FILES.items():
        write_idx(folder / name, arrays[key])


def data_config(**kwargs) -> DataConfig:
    return DataConfig.model_validate(kwargs)


# ---------------------------------------------------------------- loaders


def test_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)
    wide = np.array([1, -2, 70000], dtype=np.int32)
    write_idx(tmp_path / "b.gz", wide)
    assert read_idx(tmp_path / "b.gz").tolist() == [1, -2, 70000]


def test_idx_with_a_lying_header_is_a_data_error(tmp_path):
    path = tmp_path / "short.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10) + b"\x00" * 3)
    with pytest.raises(DataError, match="holds 3 bytes"):
        read_idx(path)


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_fashion_mnist_loads_offline_from_data_path(tmp_path, name):
    write_mnist_like(tmp_path / "files")
    data = prepare_data(data_config(dataset=name, path=str(tmp_path / "files")), seed=42)
    assert data.input_shape == (28, 28)
    assert data.task == "multiclass" and data.n_classes == 10
    assert len(data.x_train) == 96 and len(data.x_val) == 24 and len(data.x_test) == 40
    assert data.scaling == "pixels" and data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert data.test_source == "the dataset's own test set"


def test_fashion_mnist_is_found_in_the_keras_cache_and_dnn_lab_data(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    write_mnist_like(tmp_path / "keras" / "datasets" / "fashion-mnist")
    assert len(prepare_data(data_config(dataset="fashion_mnist"), 1).x_test) == 40
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("DNN_LAB_DATA", str(tmp_path / "mine"))
    write_mnist_like(tmp_path / "mine" / "fashion-mnist", n_test=20)
    assert len(prepare_data(data_config(dataset="fashion_mnist"), 1).x_test) == 20


def test_missing_files_and_a_failed_download_say_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("DNN_LAB_DATA", raising=False)
    # a port on this machine that nothing listens on: the download is refused at once
    monkeypatch.setenv("DNN_LAB_DATASETS_URL", "http://127.0.0.1:9/")
    with pytest.raises(DataError) as caught:
        prepare_data(data_config(dataset="fashion_mnist"), 1)
    message = str(caught.value)
    assert "Connection refused" in message or "URLError" in message
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert "DNN_LAB_DATA" in message and str(tmp_path / "empty") in message
    assert not list((tmp_path / "empty").rglob("*.gz")), "no half-downloaded file is left"


def test_missing_files_are_downloaded_where_keras_keeps_them(tmp_path, monkeypatch):
    """A real HTTP download from a server on this machine, in the files' own format."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    write_mnist_like(served, n_train=30, n_test=10)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
        monkeypatch.delenv("DNN_LAB_DATA", raising=False)
        monkeypatch.setenv("DNN_LAB_DATASETS_URL", f"http://127.0.0.1:{server.server_port}/")
        prepared = prepare_data(data_config(dataset="fashion_mnist"), 1)
    finally:
        server.shutdown()
    assert len(prepared.x_test) == 10 and prepared.input_shape == (28, 28)
    kept = tmp_path / "keras" / "datasets" / "fashion-mnist"
    assert sorted(p.name for p in kept.iterdir()) == sorted(IDX_FILES.values())


def test_mnist_npz_as_keras_stores_it(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=rng.integers(0, 255, (50, 28, 28), dtype=np.uint8),
        y_train=np.arange(50) % 10,
        x_test=rng.integers(0, 255, (10, 28, 28), dtype=np.uint8),
        y_test=np.arange(10) % 10,
    )
    data = prepare_data(data_config(dataset="mnist", path=str(tmp_path)), 0)
    assert len(data.x_test) == 10 and data.n_classes == 10


@pytest.mark.parametrize(
    ("name", "task", "shape", "classes"),
    [
        ("digits", "multiclass", (8, 8), 10),
        ("iris", "multiclass", (4,), 3),
        ("wine", "multiclass", (13,), 3),
        ("breast_cancer", "binary", (30,), 2),
        ("diabetes", "regression", (10,), None),
    ],
)
def test_sklearn_datasets(name, task, shape, classes):
    data = prepare_data(data_config(dataset=name, test_split=0.2), seed=42)
    assert data.task == task and data.input_shape == shape and data.n_classes == classes
    summary = data.summary()
    assert (
        sum(summary["sizes"].values())
        == {"digits": 1797, "iris": 150, "wine": 178, "breast_cancer": 569, "diabetes": 442}[name]
    )
    if classes:
        assert len(summary["class_counts"]["train"]) == classes


def test_csv_with_text_labels(tmp_path):
    rows = ["a,b,kind"] + [f"{i},{i % 3 * 1.5},{['cat', 'dog'][i % 2]}" for i in range(40)]
    (tmp_path / "pets.csv").write_text("\n".join(rows) + "\n")
    data = prepare_data(
        data_config(dataset="csv", path=str(tmp_path / "pets.csv"), target="kind"), 0
    )
    assert data.task == "binary" and data.class_names == ["cat", "dog"]
    assert data.input_shape == (2,) and data.scaling == "standard"


def test_csv_with_numeric_regression_target(tmp_path):
    rows = ["x1,x2,price"] + [f"{i},{i * 2},{i * 0.37 + 0.11}" for i in range(60)]
    (tmp_path / "prices.csv").write_text("\n".join(rows) + "\n")
    data = prepare_data(
        data_config(dataset="csv", path=str(tmp_path / "prices.csv"), target="price"), 0
    )
    assert data.task == "regression" and data.n_classes is None


def test_npz_with_its_own_test_set(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(
        tmp_path / "d.npz",
        x_train=rng.normal(size=(80, 5)),
        y_train=np.arange(80) % 4,
        x_test=rng.normal(size=(20, 5)),
        y_test=np.arange(20) % 4,
    )
    data = prepare_data(data_config(dataset="npz", path=str(tmp_path / "d.npz")), 0)
    assert data.task == "multiclass" and data.n_classes == 4 and len(data.x_test) == 20


def test_task_inference():
    assert infer_task(np.array([0, 1, 1, 0])) == "binary"
    assert infer_task(np.array([0, 1, 2, 5])) == "multiclass"
    assert infer_task(np.array([0.5, 1.25, 3.0])) == "regression"


# ---------------------------------------------------------------- splits and scaling


def test_splits_are_stratified_and_seeded():
    one = prepare_data(data_config(dataset="iris"), seed=42)
    two = prepare_data(data_config(dataset="iris"), seed=42)
    other = prepare_data(data_config(dataset="iris"), seed=43)
    assert np.array_equal(one.x_val, two.x_val) and not np.array_equal(one.x_val, other.x_val)
    assert one.stratified and np.bincount(one.y_val).tolist() == [10, 10, 10]


def test_standard_scaling_is_fit_on_the_training_split_only():
    data = prepare_data(data_config(dataset="wine", test_split=0.2), seed=3)
    assert np.allclose(data.x_train.mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(data.x_train.std(axis=0), 1.0, atol=1e-4)
    # the held-out parts were transformed with the training statistics, not their own
    assert not np.allclose(data.x_val.mean(axis=0), 0.0, atol=1e-3)
    assert not np.allclose(data.x_test.mean(axis=0), 0.0, atol=1e-3)
    raw = prepare_data(data_config(dataset="wine", test_split=0.2, scaling="none"), seed=3)
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    assert np.allclose(data.x_test, (raw.x_test - mean) / std, atol=1e-4)


def test_the_scaling_statistics_are_recorded_compactly():
    data = prepare_data(data_config(dataset="wine", test_split=0.2), seed=3)
    stats = data.summary()["scaling_stats"]
    assert stats["fit_on"] == "train" and stats["fit_samples"] == len(data.x_train)
    low, high = stats["center_range"]
    assert 0 < low < high  # wine's features are positive, proline's mean is in the hundreds
    assert stats["constant_features"] == 0 and len(stats["spread_range"]) == 2
    pixels = prepare_data(data_config(dataset="digits"), seed=0).summary()["scaling_stats"]
    assert pixels == {"divide_by": 16.0}
    assert (
        "scaling_stats"
        not in prepare_data(data_config(dataset="iris", scaling="none"), 0).summary()
    )


def test_minmax_and_pixels():
    data = prepare_data(data_config(dataset="iris", scaling="minmax"), seed=0)
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    digits = prepare_data(data_config(dataset="digits"), seed=0)
    assert digits.scaling == "pixels" and digits.x_train.max() == 1.0  # digits' pixels go to 16


def test_one_hot_labels():
    data = prepare_data(data_config(dataset="iris", one_hot=True), seed=0)
    assert data.y_train.shape == (120, 3) and set(data.y_train.sum(axis=1)) == {1.0}


# ---------------------------------------------------------------- bad data


@pytest.mark.parametrize(
    ("files", "config", "expected"),
    [
        ({}, {"dataset": "csv", "path": "missing.csv", "target": "y"}, "data file not found"),
        (
            {"d.csv": "a,b,y\n1,2,0\n"},
            {"dataset": "csv", "path": "d.csv", "target": "z"},
            "no column 'z'",
        ),
        (
            {"d.csv": "a,b,y\n1,2,0\n1,2,1\n"},
            {"dataset": "csv", "path": "d.csv", "target": "Y"},
            "did you mean 'y'",
        ),
        (
            {"d.csv": "a,b,y\n1,x,0\n2,3,1\n"},
            {"dataset": "csv", "path": "d.csv", "target": "y"},
            "line 2, column 'b': 'x' is not a number",
        ),
        (
            {"d.csv": "a,b,y\n1,inf,0\n2,3,1\n"},
            {"dataset": "csv", "path": "d.csv", "target": "y"},
            "line 2, column 'b': NaN or infinite",
        ),
        (
            {"d.csv": "a,y\n1,0\n2,1\n"},
            {
                "dataset": "csv",
                "path": "d.csv",
                "target": "y",
                "validation_split": 0.5,
                "test_split": 0.4,
            },
            "needs more data",
        ),
        (
            {"d.csv": "a,b,y\n1,2\n"},
            {"dataset": "csv", "path": "d.csv", "target": "y"},
            "line 2 has 2 fields",
        ),
    ],
)
def test_bad_csv(tmp_path, files, config, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    config = {**config, "path": str(tmp_path / config["path"])}
    with pytest.raises(DataError, match=expected):
        prepare_data(data_config(**config), 0)


@pytest.mark.parametrize(
    ("arrays", "task", "expected"),
    [
        ({"x_train": np.zeros((5, 2)), "y_train": np.zeros(4)}, "auto", "5 samples but y_train"),
        ({"x_train": np.zeros((5, 2))}, "auto", "missing array"),
        (
            {"x_train": np.zeros((6, 2)), "y_train": np.array([0, 1, 2, 0, 1, 2])},
            "binary",
            "binary task needs two distinct labels; y_train holds 3",
        ),
        (
            {"x_train": np.zeros((6, 2)), "y_train": np.array([0, 1, 0.5, 0, 1, 2])},
            "multiclass",
            "must be whole numbers or text; y_train holds 0.5",
        ),
        (
            {"x_train": np.full((6, 2), np.inf), "y_train": np.arange(6) % 2},
            "auto",
            "NaN or infinite",
        ),
    ],
)
def test_bad_npz(tmp_path, arrays, task, expected):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=expected):
        prepare_data(data_config(dataset="npz", path=str(tmp_path / "d.npz"), task=task), 0)


def test_bad_data_exits_2_and_leaves_no_run(tmp_path, make_config):
    (tmp_path / "d.csv").write_text("a,b,y\n1,x,0\n2,3,1\n")
    config = make_config(
        {"data": {"dataset": "csv", "path": str(tmp_path / "d.csv"), "target": "y"}}
    )
    result = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "d.csv: line 2, column 'b'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_loss_that_does_not_fit_the_labels_is_a_config_error(tmp_path):
    from dnn_lab.errors import ConfigError

    with pytest.raises(ConfigError, match="does not fit a multiclass task with 10 classes"):
        train_config({"train": {"loss": "binary_crossentropy"}}, tmp_path)
    with pytest.raises(ConfigError, match="data.one_hot"):
        train_config({"train": {"loss": "categorical_crossentropy"}}, tmp_path)


# ---------------------------------------------------------------- training every task


@pytest.mark.parametrize(
    ("data", "loss", "activation", "metric"),
    [
        ({"dataset": "breast_cancer"}, "binary_crossentropy", "sigmoid", "val_accuracy"),
        ({"dataset": "diabetes"}, "mean_squared_error", "linear", "val_mae"),
        (
            {"dataset": "iris", "one_hot": True},
            "categorical_crossentropy",
            "softmax",
            "val_accuracy",
        ),
    ],
)
def test_every_task_trains_end_to_end(tmp_path, data, loss, activation, metric):
    import json

    result = train_config({"data": {**data, "test_split": 0.2}, "train": {"epochs": 2}}, tmp_path)
    assert result.status == "completed", result.message
    config = (result.run_dir / "config.yaml").read_text()
    assert f"loss: {loss}" in config and f"output_activation: {activation}" in config
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metric in metrics["final"] and metrics["test"]
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["data"]["dataset"] == data["dataset"] and info["data"]["scaling"] == "standard"
    assert set(info["data"]["sizes"]) == {"train", "validation", "test"}


def test_fashion_mnist_trains_from_files_with_flatten_first(tmp_path):
    import json

    write_mnist_like(tmp_path / "files")
    result = train_config(
        {
            "data": {"dataset": "fashion_mnist", "path": str(tmp_path / "files")},
            "train": {"epochs": 1},
        },
        tmp_path / "runs",
    )
    params = json.loads((result.run_dir / "params.json").read_text())
    assert params["layers"][0]["name"] == "flatten"
    assert params["layers"][0]["output_shape"] == [None, 784]
    assert "test" in result.metrics
