"""From raw arrays to training, validation and test splits, checked and scaled.

Scaling statistics come from the training split alone, so nothing of the
validation or test data leaks into training. Arrays are float32 once, here, so
training never converts them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dnn_lab.config.datasets import dataset_info, known_task
from dnn_lab.config.schema import DataConfig
from dnn_lab.data import labels, tabular
from dnn_lab.data.labels import CLASSIFICATION, infer_task
from dnn_lab.data.loaders import RawData, load_raw
from dnn_lab.data.split import split_indices, split_sizes
from dnn_lab.errors import DataError


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
    label_mapping: dict[str, int] | None = None  # original label -> class, when remapped
    features: dict[str, Any] | None = None  # a CSV's columns: numeric, categories, left out
    dropped: dict[str, int] = field(default_factory=dict)  # samples left out, by reason
    notes: list[str] = field(default_factory=list)  # said when training starts

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
        if self.features is not None:
            info["features"] = self.features
        if self.label_mapping is not None:
            info["label_mapping"] = self.label_mapping
        if self.dropped:
            info["dropped"] = self.dropped
        if self.notes:
            info["notes"] = self.notes
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


def task_of(config: DataConfig, seed: int) -> tuple[str, int | None]:
    """The task and class count: from the registry when it knows them, else from the data."""
    if (known := known_task(config.dataset, config.task)) is not None:
        return known
    prepared = prepare_data(config, seed)
    return prepared.task, prepared.n_classes


def prepare_data(config: DataConfig, seed: int) -> PreparedData:
    """Load, check, split and scale the dataset a config names."""
    raw = load_raw(config.dataset, config.path, config.target)
    return prepare_arrays(raw, config, seed)


def prepare_arrays(raw: RawData, config: DataConfig, seed: int) -> PreparedData:
    where = raw.source or config.dataset
    names = raw.feature_names
    table = None
    if np.asarray(raw.x).dtype.kind in "USO":  # a CSV's cells: typed and checked column by column
        table = tabular.read_table(
            np.asarray(raw.x),
            names or [],
            where=where,
            lines=raw.lines,
            categorical=config.categorical,
            missing=config.missing,
        )
        x, y = table.values, np.asarray(raw.y)
    else:
        x, y = _check_arrays(raw.x, raw.y, where, "x_train", raw.label_name, names, raw.lines)
    x_test, y_test = (None, None)
    test_label = "y_test" if raw.label_name == "y_train" else raw.label_name
    if raw.x_test is not None:
        x_test, y_test = _check_arrays(raw.x_test, raw.y_test, where, "x_test", test_label, names)
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{where}: x_test has samples of shape {x_test.shape[1:]}, x_train {x.shape[1:]}"
            )
    # a sample without a label is left out, counted and said
    notes: list[str] = []
    no_label = labels.missing(y)
    if no_label.any():
        at = raw.lines if raw.lines is not None else range(len(y))
        first = [str(at[i]) for i in np.flatnonzero(no_label)[:5]]
        unit = "line" if raw.lines is not None else "sample"
        notes.append(
            f"left out {int(no_label.sum())} sample(s) with no label in {raw.label_name} "
            f"({unit} {', '.join(first)}{', ...' if no_label.sum() > 5 else ''})"
        )
        x, y = x[~no_label], y[~no_label]
    dropped = {"no_label": int(no_label.sum())} if no_label.any() else {}
    if y_test is not None and (no_test := labels.missing(y_test)).any():
        notes.append(f"left out {int(no_test.sum())} test sample(s) with no label")
        x_test, y_test = x_test[~no_test], y_test[~no_test]
        dropped["no_label_test"] = int(no_test.sum())
    lines = raw.lines
    if lines is not None:
        lines = [line for line, gone in zip(lines, no_label, strict=True) if not gone]
    if table is not None and config.missing == "drop" and (gaps := tabular.missing_rows(x)).any():
        notes.append(f"left out {int(gaps.sum())} sample(s) with a missing feature value")
        dropped["missing_value"] = int(gaps.sum())
        x, y = x[~gaps], y[~gaps]
        lines = (
            None if lines is None else [n for n, gone in zip(lines, gaps, strict=True) if not gone]
        )
    if len(x) == 0:
        raise DataError(f"{where}: no sample is left: {'; '.join(notes)}")
    if config.max_samples is not None:
        x, y = x[: config.max_samples], y[: config.max_samples]

    info = dataset_info(config.dataset)
    asked = config.task if config.task != "auto" else (info.task or "auto")
    y, y_test = _label_values(y, y_test, where, raw.label_name, test_label, asked, lines)
    task = asked if asked != "auto" else infer_task(y)
    encoded = labels.encode(
        y,
        y_test,
        task=task,
        inferred=asked == "auto",
        where=where,
        name=raw.label_name,
        known_classes=info.n_classes,
        class_names=raw.class_names or (list(info.class_names) if info.class_names else None),
    )
    y, y_test, n_classes, class_names = (
        encoded.y,
        encoded.y_test,
        encoded.n_classes,
        encoded.class_names,
    )

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

    features = None
    if table is not None:  # one-hot encoding (and imputation) fit on the training split
        encoder = tabular.fit_encoder(table, x, impute=config.missing == "impute")
        x, x_val, x_test = (tabular.transform(encoder, a) for a in (x, x_val, x_test))
        features = tabular.describe(table, encoder, impute=config.missing == "impute")
        notes += table.notes
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
        label_mapping=encoded.mapping,
        features=features,
        dropped=dropped,
        notes=notes,
    )


def _check_arrays(
    x: Any,
    y: Any,
    where: str,
    x_name: str,
    y_name: str,
    names: list[str] | None,
    lines: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Features as float32, finite and within float32's reach; labels as they are."""
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
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{where}: {x_name} has {int(bad.sum())} NaN or infinite value(s), the first in "
            f"{labels.row_name(first[0], lines)} ({labels.column_name(first, names, x_name)})"
        )
    labels.check_magnitude(x, where, names, x_name, lines)
    return x.astype(np.float32, copy=False), y


def _label_values(
    y: np.ndarray,
    y_test: np.ndarray | None,
    where: str,
    name: str,
    test_name: str,
    task: str,
    lines: list[int] | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Numbers (float64) when every label is one, else text; too large numbers refused."""
    numbers = labels.as_numbers(y, where, name, task)
    test = None if y_test is None else labels.as_numbers(y_test, where, test_name, task)
    if numbers is None or (y_test is not None and test is None):
        return y.astype(str), None if y_test is None else y_test.astype(str)
    labels.check_magnitude(numbers, where, None, name, lines)
    if test is not None:
        labels.check_magnitude(test, where, None, test_name)
    return numbers, test


def _split(x, y, fraction, seed, stratify, key):
    _, n_out = split_sizes(len(x), fraction)
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
    train, held_out = split_indices(len(x), fraction, seed, labels if stratify else None)
    return x[train], x[held_out], y[train], y[held_out], bool(stratify)


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
