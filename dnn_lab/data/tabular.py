"""Tables of mixed columns (CSV): numbers, categories, missing values, dates and IDs.

A CSV's feature cells arrive as text. Each column becomes numeric or categorical
(one-hot encoded); a date column or an ID-like text column is left out with a
note naming it. Missing values are an error, drop their rows, or are imputed
(median, most frequent). The encoder and imputers are scikit-learn's, fit on the
training split alone, like the scaling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dnn_lab.data import labels
from dnn_lab.data.labels import check_magnitude, row_name
from dnn_lab.errors import DataError, did_you_mean

_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
MAX_CATEGORIES = 100  # a text column with more distinct values is an ID, free text, not a category
_DATE = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$|^\d{1,2}/\d{1,2}/\d{2,4}$"
)


@dataclass(kw_only=True)
class Table:
    """A CSV's feature columns, typed: numbers as float (NaN when missing), text as str."""

    values: np.ndarray  # (samples, columns) of objects
    numeric: list[str]
    categorical: list[str]
    left_out: dict[str, str] = field(default_factory=dict)  # column -> why
    missing: dict[str, int] = field(default_factory=dict)  # column -> missing cells
    notes: list[str] = field(default_factory=list)


def read_table(
    cells: np.ndarray,
    names: list[str],
    *,
    where: str,
    lines: list[int] | None,
    categorical: str | list[str],
    missing: str,
) -> Table:
    """Type every column; drop dates and IDs (said); apply ``data.missing: error``.

    Args:
        cells: the feature cells as text, one row per sample.
        names: the column names.
        where: the file, for messages.
        lines: the file line of each row, for messages.
        categorical: ``auto`` (every text column) or the columns to one-hot encode.
        missing: ``error``, ``drop`` or ``impute``.
    """
    if categorical != "auto":
        for name in categorical:
            if name not in names:
                raise DataError(
                    f"data.categorical: no feature column {name!r} in {where}"
                    + did_you_mean(name, names)
                    + f" Columns: {', '.join(names)}"
                )
    numeric, categories, left_out, gaps, notes = [], [], {}, {}, []
    columns: list[np.ndarray] = []
    for index, name in enumerate(names):
        column = np.char.strip(cells[:, index].astype(str))
        absent = labels.missing(column)  # as a label is: empty or NA text, any case
        present = column[~absent]
        if absent.any():
            if missing == "error":
                row = int(np.flatnonzero(absent)[0])
                raise DataError(
                    f"{where}: {row_name(row, lines)}, column {name!r} has no value "
                    f"({int(absent.sum())} missing in that column); set data.missing: drop to "
                    "leave such rows out, or impute to fill them from the training split"
                )
            gaps[name] = int(absent.sum())
        asked = categorical != "auto" and name in categorical
        numbers = _numbers(present)
        if numbers is None and not asked and present.size and _DECIMAL_COMMA.match(present[0]):
            raise DataError(
                f"{where}: column {name!r}: {str(present[0])!r} is not a number (a decimal "
                "comma? write 1.5, not 1,5)"
            )
        if asked or numbers is None:
            why = None if asked else _left_out_reason(present, len(column))
            if why:
                left_out[name] = why
                gaps.pop(name, None)
                continue
            if categorical != "auto" and not asked:
                raise DataError(
                    f"{where}: column {name!r} holds text such as {str(present[0])!r}; name it in "
                    "data.categorical to one-hot encode it, or set data.categorical: auto"
                )
            categories.append(name)
            columns.append(np.where(absent, None, column).astype(object))
            continue
        if isinstance(numbers, int):  # the index of a text value among numbers
            row = int(np.flatnonzero(~absent)[numbers])
            raise DataError(
                f"{where}: {row_name(row, lines)}, column {name!r}: {str(present[numbers])!r} is "
                "not a number, while the column's other values are (a category? name it in "
                "data.categorical)"
            )
        full = np.full(len(column), np.nan)
        full[~absent] = numbers
        if not np.all(np.isfinite(numbers)):
            row = int(np.flatnonzero(~absent)[np.flatnonzero(~np.isfinite(numbers))[0]])
            raise DataError(
                f"{where}: {row_name(row, lines)}, column {name!r}: NaN or infinite value"
            )
        check_magnitude(full[:, None], where, [name], name, lines)
        numeric.append(name)
        columns.append(full.astype(object))
    for name, why in left_out.items():
        notes.append(f"left out column {name!r}: {why}")
    order = [names.index(n) for n in numeric + categories]
    by_name = dict(zip([n for n in names if n not in left_out], columns, strict=True))
    if not order:
        raise DataError(f"{where}: no feature column is left to train on")
    values = np.stack([by_name[names[i]] for i in order], axis=1)
    return Table(
        values=values,
        numeric=numeric,
        categorical=categories,
        left_out=left_out,
        missing=gaps,
        notes=notes,
    )


def _numbers(present: np.ndarray) -> np.ndarray | int | None:
    """Floats when every value is a number; None when none is; else the first text's index."""
    parsed, text = [], None
    for index, value in enumerate(present):
        try:
            parsed.append(float(value))
        except ValueError:
            if text is None:
                text = index
    if text is None:
        return np.asarray(parsed, dtype=np.float64)
    return None if not parsed else text


def _left_out_reason(present: np.ndarray, rows: int) -> str | None:
    if present.size == 0:
        return "it has no values"
    if np.mean([bool(_DATE.match(v)) for v in present]) >= 0.9:
        return f"it holds dates (such as {str(present[0])!r}); turn them into numbers to use them"
    distinct = np.unique(present).size
    if distinct > MAX_CATEGORIES or (distinct == present.size and rows >= 20):
        return f"{distinct} distinct text values in {rows} rows: an ID or free text, not a category"
    return None


def missing_rows(values: np.ndarray) -> np.ndarray:
    """A mask of the rows of ``Table.values`` with a missing feature."""
    gaps = np.zeros(len(values), dtype=bool)
    for index in range(values.shape[1]):
        column = values[:, index]
        gaps |= np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in column])
    return gaps


def fit_encoder(table: Table, x_train: np.ndarray, impute: bool) -> Any:
    """One-hot encoding (and imputation) fit on the training rows only."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    n_numeric = len(table.numeric)
    parts: list[tuple[str, Any, list[int]]] = []
    if table.numeric:
        numbers = SimpleImputer(strategy="median") if impute else "passthrough"
        parts.append(("numeric", numbers, list(range(n_numeric))))
    if table.categorical:
        steps = [SimpleImputer(strategy="most_frequent", missing_values=None)] if impute else []
        # a category first seen in validation or test data is all zeros, not an error
        one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32)
        columns = list(range(n_numeric, x_train.shape[1]))
        parts.append(("categorical", make_pipeline(*steps, one_hot), columns))
    encoder = ColumnTransformer(parts, sparse_threshold=0.0)
    encoder.fit(x_train)
    return encoder


def transform(encoder: Any, x: np.ndarray | None) -> np.ndarray | None:
    if x is None:
        return None
    return np.asarray(encoder.transform(x), dtype=np.float32)


def describe(table: Table, encoder: Any, impute: bool) -> dict[str, Any]:
    """What the run directory records of the columns: kinds, categories, left out, imputed."""
    info: dict[str, Any] = {"numeric": table.numeric}
    if table.categorical:
        one_hot = encoder.named_transformers_["categorical"][-1]
        info["categorical"] = {
            name: [str(c) for c in cats]
            for name, cats in zip(table.categorical, one_hot.categories_, strict=True)
        }
    if table.left_out:
        info["left_out"] = table.left_out
    if table.missing:
        info["missing"] = {"cells": table.missing, "handled": "imputed" if impute else "dropped"}
    if impute and table.missing:  # what filled the gaps, as learnt from the training split
        filled: dict[str, Any] = {}
        if table.numeric:
            medians = encoder.named_transformers_["numeric"].statistics_
            filled.update(zip(table.numeric, (float(f"{m:.6g}") for m in medians), strict=True))
        if table.categorical:
            frequent = encoder.named_transformers_["categorical"][0].statistics_
            filled.update(zip(table.categorical, (str(v) for v in frequent), strict=True))
        info["missing"]["filled_with"] = {k: v for k, v in filled.items() if k in table.missing}
    return info
