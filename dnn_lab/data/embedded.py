"""scikit-learn's bundled datasets, read straight from the files scikit-learn ships.

``sklearn.datasets.load_digits`` (or ``load_iris``...) costs one to three seconds of
imports (scikit-learn's base modules and SciPy's statistics) for a table of a few
kilobytes, paid again by every process that trains or smoke-tests one. The files are
found without importing scikit-learn and parsed as its loaders parse them, so the
arrays are the same (a test checks each); if a file has moved in some release,
scikit-learn's own loader is used instead.
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np


def sklearn_data_file(name: str) -> Path | None:
    """Where scikit-learn keeps one of its bundled data files, without importing it."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "datasets" / "data" / name
        if path.is_file():
            return path
    return None


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images of shape (1797, 8, 8) as float64, integer targets), as scikit-learn gives them.

    Parsed once per process (a notebook trains on them run after run); each call gets its
    own copies.
    """
    images, target = _parsed_digits()
    return images.copy(), target.copy()


@functools.lru_cache(maxsize=1)
def _parsed_digits() -> tuple[np.ndarray, np.ndarray]:
    path = sklearn_data_file("digits.csv.gz")
    if path is None:
        from sklearn.datasets import load_digits as sklearn_load_digits

        bunch = sklearn_load_digits()
        return bunch.images, bunch.target
    with gzip.open(path, mode="rt", encoding="utf-8") as text:
        data = np.loadtxt(text, delimiter=",")
    target = data[:, -1].astype(int, copy=False)
    return data[:, :-1].reshape(-1, 8, 8), target


# name -> (scikit-learn's loader, its CSV file): first line "n_samples,n_features,names..."
LABELLED_TABLES = {
    "iris": ("load_iris", "iris.csv"),
    "wine": ("load_wine", "wine_data.csv"),
    "breast_cancer": ("load_breast_cancer", "breast_cancer.csv"),
}


def load_labelled_table(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features as float64, integer targets, class names) of iris, wine or breast_cancer."""
    loader, file = LABELLED_TABLES[name]
    path = sklearn_data_file(file)
    if path is None:
        return _from_sklearn(loader)
    with path.open(encoding="utf-8", newline="") as text:
        rows = csv.reader(text)
        head = next(rows)
        samples, features = int(head[0]), int(head[1])
        table = np.array([row for row in rows if row], dtype=np.float64)
    if table.shape != (samples, features + 1):
        return _from_sklearn(loader)  # not the layout this reader knows
    return table[:, :-1], table[:, -1].astype(int), [str(n) for n in head[2:]]


def load_diabetes() -> tuple[np.ndarray, np.ndarray]:
    """(the ten features, standardised and divided by sqrt(n) as scikit-learn scales them,
    the disease progression as float64)."""
    data_path = sklearn_data_file("diabetes_data_raw.csv.gz")
    target_path = sklearn_data_file("diabetes_target.csv.gz")
    if data_path is None or target_path is None:
        x, y, _ = _from_sklearn("load_diabetes")
        return x, y
    with gzip.open(data_path, mode="rt", encoding="utf-8") as text:
        data = np.loadtxt(text)
    with gzip.open(target_path, mode="rt", encoding="utf-8") as text:
        target = np.loadtxt(text)
    data = data - data.mean(axis=0)
    spread = data.std(axis=0)
    data /= np.where(spread == 0, 1.0, spread)
    data /= data.shape[0] ** 0.5
    return data, target


def _from_sklearn(loader: str) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    from sklearn import datasets

    bunch = getattr(datasets, loader)()
    names = [str(n) for n in bunch.target_names] if hasattr(bunch, "target_names") else None
    return bunch.data, bunch.target, names
