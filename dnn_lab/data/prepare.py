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
from dnn_lab.config.schema import Config, DataConfig
from dnn_lab.data import labels, tabular
from dnn_lab.data.files import FileIdentity
from dnn_lab.data.labels import CLASSIFICATION, infer_task
from dnn_lab.data.loaders import RawData, load_raw
from dnn_lab.data.scaling import scale
from dnn_lab.data.split import split_indices, split_sizes
from dnn_lab.data.table_files import FileLines
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
    file: FileIdentity | None = None  # data.path as read: absolute path, size, SHA-256

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
    _check_unchanged(config, raw.file)
    prepared = prepare_arrays(raw, config, seed)
    prepared.file = raw.file
    return prepared


def _check_unchanged(config: DataConfig, found: FileIdentity | None) -> None:
    """A config that recorded its file's size and hash trains on that file only."""
    if found is None or (config.path_sha256 is None and config.path_bytes is None):
        return
    if config.path_sha256 in (None, found.sha256) and config.path_bytes in (None, found.size):
        return
    raise DataError(
        f"{found.path} changed since this config recorded it: {config.path_bytes} bytes, "
        f"sha256 {str(config.path_sha256)[:12]}... then; {found.size} bytes, sha256 "
        f"{found.sha256[:12]}... now. To train on the file as it is now, remove "
        "data.path_bytes and data.path_sha256 from the config (or --set data.path_sha256=null "
        "--set data.path_bytes=null)"
    )


def pinned(config: Config, data: PreparedData) -> Config:
    """The config with data.path absolute, and the file's size and hash, as the run read it."""
    if data.file is None:
        return config
    section = config.data.model_copy(
        update={
            "path": data.file.path,
            "path_bytes": data.file.size,
            "path_sha256": data.file.sha256,
        }
    )
    return config.model_copy(update={"data": section})


@dataclass(kw_only=True)
class _Samples:
    """The samples as they pass from one step to the next, and what each step left out."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    lines: FileLines | None
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class _Splits:
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    test_source: str | None
    stratified: bool


def prepare_arrays(raw: RawData, config: DataConfig, seed: int) -> PreparedData:
    """Checked features and labels, split, encoded and scaled; each step one function."""
    where = raw.source or config.dataset
    test_label = "y_test" if raw.label_name == "y_train" else raw.label_name
    table, samples = _checked_samples(raw, config, where, test_label)
    _leave_out_unlabelled(samples, raw.label_name)
    if table is not None and config.missing == "drop":
        _leave_out_gaps(samples)
    if len(samples.x) == 0:
        raise DataError(f"{where}: no sample is left: {'; '.join(samples.notes)}")
    if config.max_samples is not None:
        samples.x, samples.y = samples.x[: config.max_samples], samples.y[: config.max_samples]

    info = dataset_info(config.dataset)
    encoded = _labels(samples, raw, config, where, test_label)
    samples.y, samples.y_test = encoded.y, encoded.y_test
    splits = _split_all(samples, config, seed, encoded.task in CLASSIFICATION, where)

    features = None
    if table is not None:  # one-hot encoding (and imputation) fit on the training split
        features = _encode_table(table, splits, config, samples.notes)
    scaling = config.scaling if config.scaling != "auto" else info.default_scaling
    splits.x, splits.x_val, splits.x_test, stats = scale(
        scaling, splits.x, splits.x_val, splits.x_test, info.pixel_max or 255.0
    )
    if config.one_hot:
        _one_hot_labels(splits, encoded)
    splits.x, splits.x_val, splits.x_test = (
        None if a is None else np.ascontiguousarray(a)
        for a in (splits.x, splits.x_val, splits.x_test)
    )

    return PreparedData(
        x_train=splits.x,
        y_train=splits.y,
        x_val=splits.x_val,
        y_val=splits.y_val,
        x_test=splits.x_test,
        y_test=splits.y_test,
        task=encoded.task,
        n_classes=encoded.n_classes,
        class_names=encoded.class_names,
        scaling=scaling,
        source=raw.source,
        dataset=config.dataset,
        test_source=splits.test_source,
        stratified=splits.stratified,
        scaling_stats=stats,
        label_mapping=encoded.mapping,
        features=features,
        dropped=samples.dropped,
        notes=samples.notes,
    )


def _checked_samples(
    raw: RawData, config: DataConfig, where: str, test_label: str
) -> tuple[tabular.Table | None, _Samples]:
    """A table file's columns typed (``data.tabular``), or arrays checked; the test set too."""
    table = None
    if raw.columns is not None:
        columns, raw.columns = raw.columns, None  # typed column by column, then let go
        table = tabular.read_table(
            columns,
            raw.feature_names or [],
            where=where,
            lines=raw.lines,
            categorical=config.categorical,
            missing=config.missing,
        )
        x, y = table.values, np.asarray(raw.y)
        table.values = x[:0].copy()  # the samples go on in x alone; none held twice
    else:
        x, y = _check_arrays(raw.x, raw.y, where, "x_train", raw.label_name, raw.feature_names)
    x_test = y_test = None
    if raw.x_test is not None:
        x_test, y_test = _check_arrays(
            raw.x_test, raw.y_test, where, "x_test", test_label, raw.feature_names
        )
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{where}: x_test has samples of shape {x_test.shape[1:]}, x_train {x.shape[1:]}"
            )
    return table, _Samples(x=x, y=y, x_test=x_test, y_test=y_test, lines=raw.lines)


def _leave_out_unlabelled(samples: _Samples, label_name: str) -> None:
    """A sample without a label is left out, counted and said."""
    no_label = labels.missing(samples.y)
    if no_label.any():
        count = int(no_label.sum())
        at = samples.lines if samples.lines is not None else range(len(samples.y))
        first = [str(at[i]) for i in np.flatnonzero(no_label)[:5]]
        unit = "line" if samples.lines is not None else "sample"
        samples.notes.append(
            f"left out {count} sample(s) with no label in {label_name} "
            f"({unit} {', '.join(first)}{', ...' if count > 5 else ''})"
        )
        samples.x, samples.y = samples.x[~no_label], samples.y[~no_label]
        samples.dropped["no_label"] = count
        if samples.lines is not None:
            samples.lines = samples.lines.keep(~no_label)
    if samples.y_test is not None and (no_test := labels.missing(samples.y_test)).any():
        samples.notes.append(f"left out {int(no_test.sum())} test sample(s) with no label")
        samples.x_test, samples.y_test = samples.x_test[~no_test], samples.y_test[~no_test]
        samples.dropped["no_label_test"] = int(no_test.sum())


def _leave_out_gaps(samples: _Samples) -> None:
    """``data.missing: drop``: a row with a missing feature value is left out, and said."""
    gaps = tabular.missing_rows(samples.x)
    if not gaps.any():
        return
    samples.notes.append(f"left out {int(gaps.sum())} sample(s) with a missing feature value")
    samples.dropped["missing_value"] = int(gaps.sum())
    samples.x, samples.y = samples.x[~gaps], samples.y[~gaps]
    if samples.lines is not None:
        samples.lines = samples.lines.keep(~gaps)


def _labels(
    samples: _Samples, raw: RawData, config: DataConfig, where: str, test_label: str
) -> labels.Labels:
    """The task (asked, known or inferred) and the labels encoded for it."""
    info = dataset_info(config.dataset)
    asked = config.task if config.task != "auto" else (info.task or "auto")
    y, y_test = _label_values(
        samples.y, samples.y_test, where, raw.label_name, test_label, asked, samples.lines
    )
    return labels.encode(
        y,
        y_test,
        task=asked if asked != "auto" else infer_task(y),
        inferred=asked == "auto",
        where=where,
        name=raw.label_name,
        known_classes=info.n_classes,
        class_names=raw.class_names or (list(info.class_names) if info.class_names else None),
    )


def _split_all(
    samples: _Samples, config: DataConfig, seed: int, stratify: bool, where: str
) -> _Splits:
    """The test split (held out, or the dataset's own), then the validation split."""
    split_seed = config.split_seed if config.split_seed is not None else seed
    x, y, x_test, y_test = samples.x, samples.y, samples.x_test, samples.y_test
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
    return _Splits(
        x=x,
        y=y,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        test_source=test_source,
        stratified=stratified,
    )


def _encode_table(
    table: tabular.Table, splits: _Splits, config: DataConfig, notes: list[str]
) -> dict[str, Any]:
    """One-hot encoding and imputation fit on the training split; what it trained on."""
    impute = config.missing == "impute"
    encoder = tabular.fit_encoder(table, splits.x, impute=impute)
    splits.x, splits.x_val, splits.x_test = (
        tabular.transform(encoder, a) for a in (splits.x, splits.x_val, splits.x_test)
    )
    notes += table.notes + tabular.encoder_notes(encoder)
    return tabular.describe(table, encoder, impute=impute)


def _one_hot_labels(splits: _Splits, encoded: labels.Labels) -> None:
    if encoded.task != "multiclass":
        raise DataError(f"data.one_hot is for multi-class labels; this task is {encoded.task}")
    eye = np.eye(encoded.n_classes, dtype=np.float32)
    splits.y, splits.y_val, splits.y_test = (
        None if y is None else eye[y] for y in (splits.y, splits.y_val, splits.y_test)
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
    for name, values in ((x_name, x), (y_name, y)):
        if np.iscomplexobj(values):
            raise DataError(
                f"{where}: {name} holds complex numbers (dtype {values.dtype}); a network takes "
                "real numbers: store the real and imaginary parts as two features"
            )
    if y.ndim > 2:
        raise DataError(
            f"{where}: {y_name} has shape {y.shape}; labels are one value per sample, or one "
            "row of numbers per sample for a regression with several outputs"
        )
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
