"""From raw arrays to training, validation and test splits, checked and scaled.

Scaling statistics come from the training split alone, so nothing of the
validation or test data leaks into training. Arrays are float32 once, here, so
training never converts them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dnn_lab.config.schema import DataConfig
from dnn_lab.data.loaders import RawData, load_raw
from dnn_lab.data.registry import dataset_info
from dnn_lab.errors import DataError

CLASSIFICATION = ("binary", "multiclass")
MAX_INFERRED_CLASSES = 50


@dataclass(kw_only=True)
class PreparedData:
    """Splits ready for ``model.fit``; ``summary()`` is what the run directory records."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str
    n_classes: int | None
    class_names: list[str] | None
    scaling: str
    source: str
    dataset: str
    test_source: str | None = None
    stratified: bool = False
    scaling_stats: dict[str, Any] = field(default_factory=dict)  # recorded in summary()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    def summary(self) -> dict[str, Any]:
        sizes = {"train": len(self.x_train)}
        if self.x_val is not None:
            sizes["validation"] = len(self.x_val)
        if self.x_test is not None:
            sizes["test"] = len(self.x_test)
        info: dict[str, Any] = {
            "dataset": self.dataset,
            "source": self.source,
            "task": self.task,
            "input_shape": list(self.input_shape),
            "sizes": sizes,
            "scaling": self.scaling,
            "stratified": self.stratified,
        }
        if self.scaling_stats:
            info["scaling_stats"] = self.scaling_stats
        if self.test_source:
            info["test_source"] = self.test_source
        if self.n_classes is not None:
            info["n_classes"] = self.n_classes
            info["class_names"] = self.class_names
            info["class_counts"] = {
                split: _class_counts(labels, self.n_classes)
                for split, labels in (
                    ("train", self.y_train),
                    ("validation", self.y_val),
                    ("test", self.y_test),
                )
                if labels is not None
            }
        return info


def _class_counts(labels: np.ndarray, n_classes: int) -> list[int]:
    if labels.ndim == 2 and labels.shape[1] > 1:  # one-hot
        labels = labels.argmax(axis=1)
    return np.bincount(labels.reshape(-1).astype(np.int64), minlength=n_classes).tolist()


def infer_task(y: np.ndarray) -> str:
    """Integers with few distinct values are classes; anything else is a regression target."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return "multiclass"
    flat = y.reshape(-1)
    if not np.issubdtype(flat.dtype, np.number) or flat.size == 0:
        return "multiclass"
    integral = np.all(np.isfinite(flat)) and np.all(np.mod(flat, 1) == 0)
    distinct = np.unique(flat).size
    if integral and distinct <= 2:
        return "binary"
    if integral and distinct <= MAX_INFERRED_CLASSES:
        return "multiclass"
    return "regression"


def task_of(config: DataConfig, seed: int) -> tuple[str, int | None]:
    """The task and class count: from the registry when it knows them, else from the data."""
    info = dataset_info(config.dataset)
    if info.task is not None and config.task in ("auto", info.task):
        return info.task, info.n_classes if info.task != "binary" else 2
    prepared = prepare_data(config, seed)
    return prepared.task, prepared.n_classes


def prepare_data(config: DataConfig, seed: int) -> PreparedData:
    """Load, check, split and scale the dataset a config names."""
    raw = load_raw(config.dataset, config.path, config.target)
    return prepare_arrays(raw, config, seed)


def prepare_arrays(raw: RawData, config: DataConfig, seed: int) -> PreparedData:
    where = raw.source or config.dataset
    x, y = _check_arrays(raw.x, raw.y, where, "x_train", "y_train")
    x_test, y_test = (None, None)
    if raw.x_test is not None:
        x_test, y_test = _check_arrays(raw.x_test, raw.y_test, where, "x_test", "y_test")
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{where}: x_test has samples of shape {x_test.shape[1:]}, x_train {x.shape[1:]}"
            )
    if config.max_samples is not None:
        x, y = x[: config.max_samples], y[: config.max_samples]

    info = dataset_info(config.dataset)
    task = config.task if config.task != "auto" else (info.task or infer_task(y))
    y, y_test, n_classes = _check_labels(y, y_test, task, where, info.n_classes)
    class_names = raw.class_names or (list(info.class_names) if info.class_names else None)
    if n_classes is not None and (class_names is None or len(class_names) != n_classes):
        class_names = [str(i) for i in range(n_classes)]

    split_seed = config.split_seed if config.split_seed is not None else seed
    stratify = task in CLASSIFICATION
    test_source = None
    if config.test_split:
        if x_test is not None:
            raise DataError(
                f"data.test_split is set but {config.dataset!r} has its own test set; "
                "remove data.test_split to use it"
            )
        x, x_test, y, y_test, _ = _split(
            x, y, config.test_split, split_seed, stratify, "data.test_split"
        )
        test_source = f"held out: test_split={config.test_split}"
    elif x_test is not None:
        test_source = "the dataset's own test set"
    stratified = stratify
    x_val = y_val = None
    if config.validation_split:
        x, x_val, y, y_val, stratified = _split(
            x, y, config.validation_split, split_seed, stratify, "data.validation_split"
        )
    if len(x) < 1:
        raise DataError(f"{where}: no training samples left after the splits")

    scaling = config.scaling if config.scaling != "auto" else info.default_scaling
    x, x_val, x_test, stats = _scale(scaling, x, x_val, x_test, info.pixel_max or 255.0)

    if config.one_hot:
        if task != "multiclass":
            raise DataError(f"data.one_hot is for multi-class labels; this task is {task}")
        y, y_val, y_test = (
            None if labels is None else np.eye(n_classes, dtype=np.float32)[labels]
            for labels in (y, y_val, y_test)
        )

    return PreparedData(
        x_train=x,
        y_train=y,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        task=task,
        n_classes=n_classes,
        class_names=class_names,
        scaling=scaling,
        source=raw.source,
        dataset=config.dataset,
        test_source=test_source,
        stratified=stratified,
        scaling_stats=stats,
    )


def _check_arrays(
    x: Any, y: Any, where: str, x_name: str, y_name: str
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 2:
        raise DataError(f"{where}: {x_name} must hold one sample per row; its shape is {x.shape}")
    if len(x) != len(y):
        raise DataError(f"{where}: {x_name} has {len(x)} samples but {y_name} has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{where}: {x_name} is empty")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where}: {x_name} is not numeric (dtype {x.dtype})")
    x = x.astype(np.float32, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise DataError(
            f"{where}: {x_name} has {int(bad.sum())} NaN or infinite value(s), the first in sample "
            f"{int(first[0])}"
        )
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
        raise DataError(f"{where}: {y_name} has NaN or infinite labels")
    if not np.issubdtype(y.dtype, np.number):
        raise DataError(f"{where}: {y_name} is not numeric (dtype {y.dtype})")
    return x, y


def _check_labels(
    y: np.ndarray, y_test: np.ndarray | None, task: str, where: str, known: int | None
) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    if task == "regression":
        as_float = [
            None if v is None else v.astype(np.float32).reshape(len(v), -1) for v in (y, y_test)
        ]
        return as_float[0], as_float[1], None
    labels = [v for v in (y, y_test) if v is not None]
    for values in labels:
        if values.ndim > 1 and not (values.ndim == 2 and values.shape[1] == 1):
            raise DataError(
                f"{where}: classification labels must be one integer per sample; got shape "
                f"{values.shape} (for one-hot files, store the class index and set data.one_hot)"
            )
        flat = values.reshape(-1)
        if np.any(np.mod(flat, 1) != 0) or np.any(flat < 0):
            bad = flat[(np.mod(flat, 1) != 0) | (flat < 0)][0]
            raise DataError(
                f"{where}: labels for {task} must be integers 0, 1, 2...; found {bad!r}"
            )
    n_classes = int(max(int(v.max()) for v in labels)) + 1
    if task == "binary" and n_classes > 2:
        raise DataError(
            f"{where}: a binary task needs labels 0 and 1; found labels up to {n_classes - 1} "
            "(set data.task: multiclass)"
        )
    if task == "binary":
        n_classes = 2
    if known is not None and n_classes > known:
        raise DataError(
            f"{where}: labels up to {n_classes - 1}, but the dataset has {known} classes"
        )
    n_classes = max(n_classes, known or 0)
    out = [None if v is None else v.reshape(-1).astype(np.int64) for v in (y, y_test)]
    if task == "binary":
        out = [None if v is None else v.astype(np.float32).reshape(-1, 1) for v in out]
    return out[0], out[1], n_classes


def _split(x, y, fraction, seed, stratify, key):
    from sklearn.model_selection import train_test_split

    n_out = int(np.ceil(fraction * len(x)))
    if n_out < 1 or len(x) - n_out < 1:
        raise DataError(
            f"{key}={fraction} leaves {len(x) - n_out} training and {n_out} held-out samples out "
            f"of {len(x)}; the split needs more data"
        )
    labels = y.reshape(len(y), -1)[:, 0] if stratify else None
    if stratify:
        counts = np.bincount(labels.astype(np.int64))
        counts = counts[counts > 0]
        # stratifying needs two samples of every class and room for each class in both parts
        stratify = counts.min() >= 2 and n_out >= len(counts) and len(x) - n_out >= len(counts)
    x_a, x_b, y_a, y_b = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=labels if stratify else None
    )
    return x_a, x_b, y_a, y_b, bool(stratify)


def _scale(kind, x, x_val, x_test, pixel_max):
    """Fit on the training split only; apply the same transform to the others."""
    if kind == "none":
        return x, x_val, x_test, {}
    if kind == "pixels":
        scale = np.float32(1.0 / pixel_max)
        return (
            *(None if a is None else a * scale for a in (x, x_val, x_test)),
            {"divide_by": pixel_max},
        )
    if kind == "standard":
        center = x.mean(axis=0)
        spread = x.std(axis=0)
    elif kind == "minmax":
        center = x.min(axis=0)
        spread = x.max(axis=0) - center
    else:  # pragma: no cover - the schema admits no other value
        raise DataError(f"unknown scaling {kind!r}")
    spread_raw = spread
    spread = np.where(spread > 0, spread, 1.0).astype(np.float32)
    center = center.astype(np.float32)
    constant = int(np.count_nonzero(spread_raw <= 0))
    # per-feature vectors can be thousands long; run.json keeps their range, enough to see
    # what the scaling did (a feature left unscaled because it is constant, say)
    stats = {
        "fit_on": "train",
        "fit_samples": len(x),
        "center_range": _value_range(center),
        "spread_range": _value_range(spread_raw),
        "constant_features": constant,
    }
    return (*(None if a is None else (a - center) / spread for a in (x, x_val, x_test)), stats)


def _value_range(values: np.ndarray) -> list[float]:
    """[min, max] of a statistic's per-feature values, to four significant digits."""
    return [float(f"{float(v):.4g}") for v in (values.min(), values.max())]
