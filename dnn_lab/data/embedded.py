"""scikit-learn's digits, read straight from the file scikit-learn ships.

``sklearn.datasets.load_digits`` costs over a second of imports (scikit-learn's
base modules and SciPy) for a 60 KB table. The file is found without importing
scikit-learn and parsed as ``load_digits`` parses it, so the arrays are identical
(a test checks); if the file has moved in some release, scikit-learn's own loader
is used instead.
"""

from __future__ import annotations

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
    """(images of shape (1797, 8, 8) as float64, integer targets), as scikit-learn gives them."""
    path = sklearn_data_file("digits.csv.gz")
    if path is None:
        from sklearn.datasets import load_digits as sklearn_load_digits

        bunch = sklearn_load_digits()
        return bunch.images, bunch.target
    with gzip.open(path, mode="rt", encoding="utf-8") as text:
        data = np.loadtxt(text, delimiter=",")
    target = data[:, -1].astype(int, copy=False)
    return data[:, :-1].reshape(-1, 8, 8), target
