"""Small data for a smoke run: a stratified subset, or a stand-in where the files are absent.

A CI runner has the datasets that ship with the package and scikit-learn, but not
Fashion-MNIST's files; a smoke run of such a config still proves it builds and learns
on arrays of the same shape and classes. The stand-in is learnable on purpose (each
class is a fixed random image plus noise): a smoke check that the loss falls must not
fail because the data is noise.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dnn_lab.config.datasets import dataset_info, known_task
from dnn_lab.config.schema import DataConfig
from dnn_lab.data import loaders
from dnn_lab.data.loaders import RawData
from dnn_lab.data.prepare import PreparedData, prepare_arrays
from dnn_lab.data.split import split_indices
from dnn_lab.errors import DataError

REAL = "real"
STAND_IN = "stand-in"
AUTO = "auto"
DATA_MODES = (AUTO, REAL, STAND_IN)

# Datasets read from files that may be absent (the others ship with the package or sklearn).
_FILE_DATASETS = ("fashion_mnist", "mnist")


def files_absent(config: DataConfig) -> bool:
    """True when the dataset's files are not on this machine (it would download them)."""
    if config.dataset not in _FILE_DATASETS:
        return False
    return loaders.find_files(config.dataset, config.path) is None


def stand_in(config: DataConfig, samples: int, seed: int) -> RawData:
    """``samples`` rows of the dataset's shape and classes, each class learnable from x."""
    info = dataset_info(config.dataset)
    if info.input_shape is None or not info.n_classes:
        raise DataError(f"data.dataset: {config.dataset!r} has no known shape for a stand-in")
    rng = np.random.default_rng(seed)
    top = info.pixel_max or 1.0
    prototypes = rng.uniform(0, top, size=(info.n_classes, *info.input_shape))
    y = rng.permutation(np.arange(samples) % info.n_classes)
    noise = rng.normal(0, top / 8, size=(samples, *info.input_shape))
    x = np.clip(prototypes[y] + noise, 0, top).astype(np.float32)
    names = list(info.class_names) if info.class_names else [str(i) for i in range(len(y))]
    return RawData(
        x=x, y=y.astype(np.int64), class_names=names[: info.n_classes], source="stand-in"
    )


def subset(raw: RawData, samples: int, seed: int, stratify: bool) -> RawData:
    """At most ``samples`` training rows, in every class's proportion when ``stratify``."""
    total = len(raw.y)
    if total <= samples:
        return dataclasses.replace(raw, x_test=None, y_test=None)
    labels = np.asarray(raw.y).reshape(total, -1)[:, 0] if stratify else None
    try:
        _, kept = split_indices(total, samples / total, seed, labels)
    except ValueError:  # a class too small to stratify: a plain sample still smoke-tests
        _, kept = split_indices(total, samples / total, seed)
    kept = np.sort(kept)
    chosen = np.zeros(total, dtype=bool)
    chosen[kept] = True
    return dataclasses.replace(
        raw,
        x=None if raw.x is None else np.asarray(raw.x)[kept],
        y=np.asarray(raw.y)[kept],
        columns=None if raw.columns is None else raw.columns.rows_at(kept),  # a table file's
        x_test=None,  # the smoke never evaluates a test set
        y_test=None,
        lines=None if raw.lines is None else raw.lines.keep(chosen),
    )


def smoke_data(config: DataConfig, samples: int, seed: int, mode: str) -> tuple[PreparedData, str]:
    """The prepared subset and where it came from (``real`` or ``stand-in``).

    Raises:
        DataError: the files are absent and ``mode`` is ``real``; or the data is unusable.
    """
    use_stand_in = mode == STAND_IN or (mode == AUTO and files_absent(config))
    if mode == REAL and files_absent(config):
        raise DataError(
            f"data.dataset: {config.dataset!r} is not on this machine and --data real "
            "refuses a stand-in (--data auto smoke-tests on one of the same shape)"
        )
    if use_stand_in:
        raw = stand_in(config, samples, seed)
        config = config.model_copy(update={"path": None})
    else:
        raw = loaders.load_raw(config.dataset, config.path, config.target)
        known = known_task(config.dataset, config.task)
        raw = subset(raw, samples, seed, stratify=known is None or known[0] != "regression")
    return prepare_arrays(raw, config, seed), STAND_IN if use_stand_in else REAL
