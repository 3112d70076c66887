"""Labels: missing ones dropped, the task inferred, classes encoded as 0..K-1.

Labels arrive as numbers (npz, scikit-learn, IDX) or as the text of a CSV column.
Whatever their values (2007/2008/2009, -1/1, 0/1/1e9, cat/dog), classes become
0..K-1 with the original values recorded, so nothing is ever sized by a label's
value. A column that can only be a number to predict or an ID is not taken for
classes unless the config says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnn_lab.errors import DataError

CLASSIFICATION = ("binary", "multiclass")
MAX_INFERRED_CLASSES = 50  # more distinct integers than this are not taken for classes
MAX_CLASSES = 1000  # even when data.task says so
# Spellings of "no value" in CSV files; not "None", which may be a class ("none", "mild"...)
MISSING_TEXT = frozenset({"", "na", "n/a", "nan", "null", "<na>", "#n/a", "?"})
# A float32 overflows past 3.4e38; squared (a variance, a squared-error loss), past 1.8e19.
MAX_ABS_VALUE = 1e19


@dataclass(frozen=True, kw_only=True)
class Labels:
    """Labels ready for training, and what was done to get them."""

    y: np.ndarray  # class indices (int64) or regression targets (float32, one column each)
    y_test: np.ndarray | None
    task: str
    n_classes: int | None
    class_names: list[str] | None
    mapping: dict[str, int] | None  # original label -> class, when they were not 0..K-1


def missing(values: np.ndarray) -> np.ndarray:
    """A mask of the labels that are absent: empty or NA text, NaN numbers."""
    values = np.asarray(values)
    if values.dtype.kind in "US":  # numpy's string functions: no Python object per label
        flat = values.reshape(len(values), -1)[:, 0].astype(str)
        return np.isin(np.char.lower(np.char.strip(flat)), sorted(MISSING_TEXT))
    if values.dtype.kind == "O":
        flat = values.reshape(len(values), -1)[:, 0]
        return np.array([str(v).strip().lower() in MISSING_TEXT for v in flat], dtype=bool)
    if values.dtype.kind == "f":
        return np.isnan(values.reshape(len(values), -1)).any(axis=1)
    return np.zeros(len(values), dtype=bool)


def as_numbers(values: np.ndarray, where: str, name: str, task: str) -> np.ndarray | None:
    """Numbers as float64; None for text labels. Text among numbers is an error, not classes.

    Args:
        values: the labels, without missing ones.
        where: the file, for messages.
        name: the column or array, for messages.
        task: the task the config or registry asks for (``auto`` when neither does).
    """
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    if values.dtype.kind not in "USO":
        raise DataError(f"{where}: {name} holds {values.dtype}, not numbers or text labels")
    # each distinct label parsed once: a million rows of cat and dog are two float() calls
    distinct, inverse = np.unique(values.reshape(-1), return_inverse=True)
    parsed = np.empty(len(distinct), dtype=np.float64)
    is_text = np.zeros(len(distinct), dtype=bool)
    for index, value in enumerate(distinct):
        try:
            parsed[index] = float(value)
        except (TypeError, ValueError):
            is_text[index] = True
    text = np.flatnonzero(is_text[inverse])
    if not text.size:
        return parsed[inverse].reshape(values.shape)
    if task in CLASSIFICATION or len(text) == values.size:
        return None  # class names, some of which may look like numbers
    first = values.reshape(-1)[text[0]]
    raise DataError(
        f"{where}: {name} holds numbers and {len(text)} text value(s) such as {str(first)!r} "
        f"(value {text[0] + 1}); a number to predict cannot hold text. Fix those values, leave "
        "them empty to drop their rows, or set data.task: multiclass if they are class names"
    )


def check_magnitude(
    values: np.ndarray,
    where: str,
    names: list[str] | None,
    what: str,
    lines: list[int] | None = None,
) -> None:
    """Refuse numbers float32 cannot carry through training, naming the column and the row."""
    values = np.asarray(values)
    if values.dtype.kind != "f" or values.size == 0:
        return
    with np.errstate(invalid="ignore"):
        big = np.abs(values) > MAX_ABS_VALUE
    if not big.any():
        return
    first = tuple(int(i) for i in np.argwhere(big)[0])
    column = column_name(first, names, what)
    raise DataError(
        f"{where}: {column} holds {float(values[first]):g} ({row_name(first[0], lines)}), beyond "
        f"+-{MAX_ABS_VALUE:g}: float32 overflows once it is summed or squared (a variance, "
        "a squared-error loss). Rescale that column, to other units say"
    )


def row_name(index: int, lines: list[int] | None) -> str:
    """``line 12`` of a file whose lines are known, else ``sample 10`` (from 0)."""
    return f"line {lines[index]}" if lines is not None else f"sample {index}"


def column_name(index: tuple[int, ...], names: list[str] | None, what: str) -> str:
    if len(index) == 1:
        return what
    if names is not None and len(index) == 2 and index[1] < len(names):
        return f"column {names[index[1]]!r}"
    return f"{what} feature {index[1:] if len(index) > 2 else index[1]}"


def infer_task(y: np.ndarray) -> str:
    """Whole numbers or text are classes (binary when two); other numbers are a regression."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return "multiclass"
    flat = y.reshape(-1)
    if not np.issubdtype(flat.dtype, np.number) or flat.size == 0:
        return "binary" if np.unique(flat.astype(str)).size == 2 else "multiclass"
    integral = bool(np.all(np.isfinite(flat)) and np.all(np.mod(flat, 1) == 0))
    if not integral:
        return "regression"
    return "binary" if np.unique(flat).size <= 2 else "multiclass"


def encode(
    y: np.ndarray,
    y_test: np.ndarray | None,
    *,
    task: str,
    inferred: bool,
    where: str,
    name: str,
    known_classes: int | None = None,
    class_names: list[str] | None = None,
) -> Labels:
    """Regression targets as float32 columns; classes as 0..K-1, mapped when they are not.

    Args:
        y, y_test: labels without missing values; numbers (float64) or text.
        task: binary, multiclass or regression.
        inferred: True when the task came from the data, not the config or registry: a
            column with too many distinct values is then refused rather than taken as classes.
        where, name: the file and the column or array, for messages.
        known_classes: the registry's class count, for built-in datasets; default unknown.
        class_names: names the loader found (scikit-learn's), by class index; default none.
    """
    parts = [v for v in (y, y_test) if v is not None]
    if task == "regression":
        if any(v.dtype.kind not in "biuf" for v in parts):
            raise DataError(f"{where}: {name} holds text; a regression needs numbers")
        out = [None if v is None else v.astype(np.float32).reshape(len(v), -1) for v in (y, y_test)]
        return Labels(
            y=out[0], y_test=out[1], task=task, n_classes=None, class_names=None, mapping=None
        )
    for values in parts:
        if values.ndim > 1 and not (values.ndim == 2 and values.shape[1] == 1):
            raise DataError(
                f"{where}: classification labels must be one value per sample; got shape "
                f"{values.shape} (for one-hot files, store the class index and set data.one_hot)"
            )
    flat = [v.reshape(-1) for v in parts]
    numeric = all(v.dtype.kind in "biuf" for v in flat)
    if numeric:
        every = np.concatenate(flat).astype(np.float64)
        fractional = every[np.mod(every, 1) != 0]
        if fractional.size:
            raise DataError(
                f"{where}: labels for {task} must be whole numbers or text; {name} holds "
                f"{float(fractional[0])!r} (set data.task: regression for a number to predict)"
            )
        values = np.unique(every)
    else:
        flat = [v.astype(str) for v in flat]
        values = np.unique(np.concatenate(flat))
    _check_class_count(values.size, len(flat[0]), task, inferred, where, name, numeric)
    if values.size < 2:
        raise DataError(
            f"{where}: {name} holds one class ({_label_text(values[0])!r}) in all "
            f"{sum(len(v) for v in flat)} samples; a classifier needs at least two classes to "
            "tell apart (set data.task: regression for a number to predict, or choose "
            "another target)"
        )

    identity = (
        numeric
        and values.size
        and values.min() >= 0
        and values.max() < max(values.size, known_classes or 0, 2 if task == "binary" else 0)
    )
    if identity:
        # 0..K-1 already (or a subset of a built-in dataset's classes): kept as they are
        n_classes = int(max(values.max() + 1, known_classes or 0))
        if task == "binary" and n_classes <= 2:
            n_classes = 2  # one label seen (a small file): still two classes
        codes = [v.astype(np.int64) for v in flat]
        mapping = None
        names = class_names if class_names and len(class_names) == n_classes else None
        names = names or [str(i) for i in range(n_classes)]
    else:
        n_classes = int(values.size)
        codes = [np.searchsorted(values, v).astype(np.int64) for v in flat]
        names = [_label_text(v) for v in values]
        # text labels are their class names already; numbers get their mapping recorded
        mapping = {label: index for index, label in enumerate(names)} if numeric else None
    if task == "binary" and n_classes > 2:
        raise DataError(
            f"{where}: a binary task needs two distinct labels; {name} holds {n_classes} "
            "(set data.task: multiclass)"
        )
    out = [None if v is None else codes.pop(0) for v in (y, y_test)]
    if task == "binary":
        out = [None if v is None else v.astype(np.float32).reshape(-1, 1) for v in out]
    return Labels(
        y=out[0],
        y_test=out[1],
        task=task,
        n_classes=n_classes,
        class_names=names,
        mapping=mapping,
    )


def _check_class_count(
    distinct: int, samples: int, task: str, inferred: bool, where: str, name: str, numeric: bool
) -> None:
    kind = "whole numbers" if numeric else "text values"
    if inferred and distinct > MAX_INFERRED_CLASSES:
        hint = (
            "if it is a number to predict, set data.task: regression; if it is an ID, "
            "choose another data.target"
            if numeric
            else "an ID or free text is no label; set data.task: multiclass to use them as classes"
        )
        raise DataError(
            f"{where}: {name} holds {distinct} distinct {kind} in {samples} samples, too many "
            f"to take for classes (at most {MAX_INFERRED_CLASSES} without data.task); {hint}"
        )
    if distinct > MAX_CLASSES or (distinct > MAX_INFERRED_CLASSES and distinct > samples // 2):
        raise DataError(
            f"{where}: {name} holds {distinct} distinct {kind} in {samples} samples: most "
            f"classes would have one sample or the classes would exceed {MAX_CLASSES}; that is "
            "an ID or a number to predict (data.task: regression), not a label"
        )


def _label_text(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
