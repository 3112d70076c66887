"""scikit-learn's bundled datasets, read from its files without importing it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn import datasets

from dnn_lab.data import embedded
from dnn_lab.data.embedded import load_diabetes, load_digits, load_labelled_table
from dnn_lab.data.loaders import load_raw


def test_digits_are_the_arrays_scikit_learn_loads():
    images, target = load_digits()
    bunch = datasets.load_digits()
    np.testing.assert_array_equal(images, bunch.images)
    np.testing.assert_array_equal(target, bunch.target)
    assert images.dtype == bunch.images.dtype


def test_digits_are_parsed_once_and_each_caller_gets_its_own_copy():
    first_images, first_target = load_digits()
    first_images[0, 0, 0], first_target[0] = -1.0, 99  # what one run does to its arrays
    images, target = load_digits()
    assert images[0, 0, 0] == 0.0 and target[0] == 0
    assert embedded._parsed_digits.cache_info().currsize == 1


@pytest.mark.parametrize("name", sorted(embedded.LABELLED_TABLES))
def test_labelled_tables_are_the_arrays_scikit_learn_loads(name):
    x, y, names = load_labelled_table(name)
    bunch = getattr(datasets, embedded.LABELLED_TABLES[name][0])()
    np.testing.assert_array_equal(x, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)
    assert names == [str(n) for n in bunch.target_names]
    raw = load_raw(name, None, None)
    assert raw.x.dtype == np.float32 and raw.class_names == names


def test_diabetes_is_scaled_as_scikit_learn_scales_it():
    x, y = load_diabetes()
    bunch = datasets.load_diabetes()
    np.testing.assert_allclose(x, bunch.data, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(y, bunch.target)


def test_a_moved_file_falls_back_to_scikit_learns_loader(monkeypatch):
    monkeypatch.setattr(embedded, "sklearn_data_file", lambda name: None)
    x, y, names = load_labelled_table("iris")
    assert x.shape == (150, 4) and names == ["setosa", "versicolor", "virginica"]
    assert load_diabetes()[0].shape == (442, 10)


@pytest.mark.parametrize("dataset", ["digits", "iris", "wine", "breast_cancer", "diabetes"])
def test_preparing_a_bundled_dataset_imports_neither_scikit_learn_nor_scipy(dataset):
    code = (
        "import sys\n"
        "from dnn_lab.config.loading import validate_config\n"
        "from dnn_lab.data.prepare import prepare_data\n"
        f"c = validate_config({{'name': 'x', 'data': {{'dataset': {dataset!r}}}}})\n"
        "prepare_data(c.data, c.seed)\n"
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
