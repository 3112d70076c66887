"""Tables of mixed columns (CSV, Parquet): numbers, categories, missing values, dates and IDs.

Each feature column arrives as an Arrow column (``dnn_lab.data.table_files``) and becomes
numeric or categorical (one-hot encoded); a date column or an ID-like text column is left
out with a note naming it. Missing values are an error, drop their rows, or are imputed
(median, most frequent). Columns are typed with Arrow's compute functions and held as one
float32 matrix (a category as its code), so no cell is ever a Python object; the encoding
and imputation are fit on the training split alone, like the scaling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dnn_lab.data.labels import MAX_ABS_VALUE, MISSING_TEXT, check_magnitude, row_name
from dnn_lab.errors import DataError, did_you_mean

_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
MAX_CATEGORIES = 100  # a text column with more distinct values is an ID, free text, not a category
_DATE = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$|^\d{1,2}/\d{1,2}/\d{2,4}$"
)
# What Python's float() reads (Arrow's cast decides the value; this finds the text among them)
_DIGITS = r"\d(?:_?\d)*"
_NUMBER = (
    rf"(?i)^[+-]?(?:(?:{_DIGITS})?\.?{_DIGITS}(?:e[+-]?{_DIGITS})?|{_DIGITS}\.|inf|infinity|nan)$"
)


@dataclass(kw_only=True)
class Table:
    """A table's feature columns, typed: numbers first, then each category as its code."""

    values: np.ndarray  # (samples, columns) float32; NaN where a cell is missing
    numeric: list[str]
    categorical: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)  # column -> code's text
    left_out: dict[str, str] = field(default_factory=dict)  # column -> why
    missing: dict[str, int] = field(default_factory=dict)  # column -> missing cells
    notes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Encoder:
    """One-hot encoding and imputation as fit on the training rows."""

    numeric: list[int]  # the numeric columns kept (those with a training value)
    medians: np.ndarray | None  # per kept numeric column, when imputing
    categorical: list[int]  # columns of ``Table.values`` kept as categories
    seen: list[np.ndarray]  # per kept category column: the codes the training rows hold
    frequent: list[int | None]  # per kept category column: the code that fills a gap
    unused: dict[str, str]  # column -> why it is not trained on


def read_table(
    cells,
    names: list[str],
    *,
    where: str,
    lines,
    categorical: str | list[str],
    missing: str,
) -> Table:
    """Type every column; drop dates and IDs (said); apply ``data.missing: error``.

    Args:
        cells: the feature columns (``table_files.Columns``), or text cells, a row a sample.
        names: the column names.
        where: the file, for messages.
        lines: the file line of each row, for messages (None: rows are samples).
        categorical: ``auto`` (every text column) or the columns to one-hot encode.
        missing: ``error``, ``drop`` or ``impute``.
    """
    from dnn_lab.data.table_files import as_arrow

    columns = as_arrow(cells) if isinstance(cells, np.ndarray) else cells
    if categorical != "auto":
        for name in categorical:
            if name not in names:
                raise DataError(
                    f"data.categorical: no feature column {name!r} in {where}"
                    + did_you_mean(name, names)
                    + f" Columns: {', '.join(names)}"
                )
    numbers_out = _Matrix(rows=columns.rows, width=columns.count)
    codes: dict[str, np.ndarray] = {}
    table = Table(values=np.empty((0, 0), np.float32), numeric=[], categorical=[])
    for index, name in enumerate(names):
        asked = categorical != "auto" and name in categorical
        column = _Column(columns.take(index), name, where, lines)
        if column.absent_count:
            if missing == "error":
                row = int(np.flatnonzero(column.absent)[0])
                raise DataError(
                    f"{where}: {row_name(row, lines)}, column {name!r} has no value "
                    f"({column.absent_count} missing in that column); set data.missing: drop "
                    "to leave such rows out, or impute to fill them from the training split"
                )
            table.missing[name] = column.absent_count
        if column.date is not None and not asked:
            table.left_out[name] = column.date
            table.missing.pop(name, None)
            continue
        numbers = None if asked else column.numbers()
        if numbers is None and not asked and column.present_count and column.decimal_comma():
            raise DataError(
                f"{where}: column {name!r}: {column.first_present()!r} is not a number (a decimal "
                "comma? write 1.5, not 1,5)"
            )
        if asked or numbers is None:
            why = None if asked else column.left_out_reason()
            if why:
                table.left_out[name] = why
                table.missing.pop(name, None)
                continue
            if categorical != "auto" and not asked:
                raise DataError(
                    f"{where}: column {name!r} holds text such as {column.first_present()!r}; "
                    "name it in data.categorical to one-hot encode it, or set "
                    "data.categorical: auto"
                )
            codes[name], table.categories[name] = column.codes()
            continue
        if isinstance(numbers, int):  # the index of a text value among numbers
            row = int(np.flatnonzero(~column.absent)[numbers])
            raise DataError(
                f"{where}: {row_name(row, lines)}, column {name!r}: "
                f"{column.present_text(numbers)!r} is not a number, while the column's other "
                "values are (a category? name it in data.categorical)"
            )
        if column.present_count == 0:
            table.left_out[name] = "it has no values"
            table.missing.pop(name, None)
            continue
        _check_finite(numbers, column.absent, name, where, lines)
        numbers_out.add(name, numbers)
    table.notes = [f"left out column {name!r}: {why}" for name, why in table.left_out.items()]
    table.numeric, table.categorical = numbers_out.names, list(codes)
    if not table.numeric and not codes:
        raise DataError(f"{where}: no feature column is left to train on")
    table.values = numbers_out.with_codes(list(codes.values()))
    return table


def _check_finite(numbers: np.ndarray, absent: np.ndarray, name: str, where: str, lines) -> None:
    """No infinity, nothing float32 cannot carry: one pass over the column when all is well."""
    with np.errstate(invalid="ignore"):
        suspect = ~(np.abs(numbers) <= MAX_ABS_VALUE)  # NaN, infinite or too large
    if not (suspect & ~absent).any():
        return
    bad = ~np.isfinite(numbers) & ~absent
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: {row_name(row, lines)}, column {name!r}: NaN or infinite value")
    check_magnitude(numbers[:, None], where, [name], name, lines)


class _Column:
    """One Arrow column, its text stripped, its missing cells found, typed on demand."""

    def __init__(self, column, name: str, where: str, lines):
        import pyarrow as pa
        import pyarrow.compute as pc

        from dnn_lab.data.table_files import float_values

        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        self.date: str | None = None
        self.floats: np.ndarray | None = None
        self.text = None
        self._source = column  # a number or date column's values, as text if named a category
        if pa.types.is_null(kind):  # no value in any row
            self.floats = np.full(len(column), np.nan)
            self.absent = np.ones(len(column), dtype=bool)
        elif pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
            self.floats = float_values(column)
            self.absent = np.isnan(self.floats)  # empty, or a "nan" Arrow read as a number
        elif pa.types.is_temporal(kind):
            first = pc.drop_null(column)
            example = str(first[0]) if len(first) else ""
            self.date = f"it holds dates (such as {example!r}); turn them into numbers to use them"
            self.absent = column.is_null().to_numpy(zero_copy_only=False)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            self.text = pc.fill_null(pc.utf8_trim_whitespace(column), "")
            lower = pc.utf8_lower(self.text)
            found = pc.is_in(lower, value_set=pa.array(sorted(MISSING_TEXT)))
            self.absent = found.to_numpy(zero_copy_only=False)
        else:
            raise DataError(
                f"{where}: column {name!r} holds {kind} values; a feature column holds one "
                "number or one text per row"
            )
        self.absent_count = int(self.absent.sum())
        self.present_count = len(self.absent) - self.absent_count
        self._present = None

    def present(self):
        import pyarrow as pa

        if self._present is None:
            self._present = self.text.filter(pa.array(~self.absent))
        return self._present

    def first_present(self) -> str:
        return self.present_text(0)

    def present_text(self, index: int) -> str:
        if self.text is None:
            return f"{self.floats[~self.absent][index]:g}"
        return str(self.present()[index])

    def decimal_comma(self) -> bool:
        return self.text is not None and bool(_DECIMAL_COMMA.match(self.first_present()))

    def numbers(self) -> np.ndarray | int | None:
        """Floats (NaN when missing) when every value is a number; None when none is;
        else the index among the present values of the first text."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.text is None:
            return self.floats
        present = self.present()
        try:
            parsed = pc.replace_substring(present, "_", "").cast(pa.float64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            looks = pc.match_substring_regex(present, _NUMBER).to_numpy(zero_copy_only=False)
            if not looks.any():
                return None
            if not looks.all():
                return int(np.flatnonzero(~looks)[0])
            parsed = np.array([float(v) for v in present.to_pylist()])  # Python's own rules
        full = np.full(len(self.absent), np.nan)
        full[~self.absent] = parsed
        return full

    def left_out_reason(self) -> str | None:
        import pyarrow.compute as pc

        if self.present_count == 0:
            return "it has no values"
        present = self.present()
        dates = pc.match_substring_regex(present, _DATE.pattern).to_numpy(zero_copy_only=False)
        if dates.mean() >= 0.9:
            return (
                f"it holds dates (such as {self.first_present()!r}); turn them into numbers "
                "to use them"
            )
        distinct = pc.count_distinct(present).as_py()
        rows = len(self.absent)
        if distinct > MAX_CATEGORIES or (distinct == self.present_count and rows >= 20):
            return (
                f"{distinct} distinct text values in {rows} rows: an ID or free text, not a "
                "category"
            )
        return None

    def codes(self) -> tuple[np.ndarray, list[str]]:
        """Each row's category as its index among the sorted distinct values (NaN: missing)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.text is None:  # numbers or dates named in data.categorical: 1000, not 1000.0
            self.text = pc.fill_null(self._source.cast(pa.string()), "")
        text = self.text
        distinct = sorted(pc.unique(text.filter(pa.array(~self.absent))).to_pylist())
        index = pc.index_in(text, value_set=pa.array(distinct, pa.string()))
        out = index.cast(pa.float32()).to_numpy(zero_copy_only=False).copy()
        out[self.absent] = np.nan
        return out, distinct


class _Matrix:
    """The float32 matrix the numeric columns are written into as they are typed.

    Held column-major (each column one contiguous write); the splits' row selection
    returns row-major copies, the layout training takes.
    """

    def __init__(self, rows: int, width: int):
        self.columns = np.empty((width, rows), dtype=np.float32)
        self.names: list[str] = []

    def add(self, name: str, numbers: np.ndarray) -> None:
        self.columns[len(self.names)] = numbers
        self.names.append(name)

    def with_codes(self, codes: list[np.ndarray]) -> np.ndarray:
        """Numbers first, then the category codes, as (samples, columns)."""
        for place, column in enumerate(codes, start=len(self.names)):
            self.columns[place] = column
        return self.columns[: len(self.names) + len(codes)].T


def missing_rows(values: np.ndarray) -> np.ndarray:
    """A mask of the rows of ``Table.values`` with a missing feature."""
    return np.isnan(values).any(axis=1)


def fit_encoder(table: Table, x_train: np.ndarray, impute: bool) -> Encoder:
    """One-hot encoding (and imputation) fit on the training rows only.

    A column with no value in the training rows is not trained on (its median or most
    frequent value would be invented); ``describe`` says so.
    """
    n_numeric = len(table.numeric)
    unused: dict[str, str] = {}
    numeric, medians = [], []
    # without missing cells (or with their rows dropped) there is no gap to look for
    gaps = np.isnan(x_train).all(axis=0) if table.missing else np.zeros(x_train.shape[1], bool)
    for index, name in enumerate(table.numeric):
        if gaps[index]:
            unused[name] = "it has no values in the training split"
            continue
        numeric.append(index)
        if impute:
            column = x_train[:, index]
            medians.append(float(np.median(column[~np.isnan(column)].astype(np.float64))))
    categorical, seen, frequent = [], [], []
    for offset, name in enumerate(table.categorical):
        column = x_train[:, n_numeric + offset]
        present = column[~np.isnan(column)].astype(np.int64)
        if present.size == 0:
            unused[name] = "it has no values in the training split"
            continue
        categorical.append(n_numeric + offset)
        seen.append(np.unique(present))
        # the most frequent; a tie goes to the first in sorted order, as scikit-learn's does
        frequent.append(int(np.bincount(present).argmax()) if impute else None)
    if not numeric and not categorical:
        raise DataError("no feature column has a value in the training split")
    return Encoder(
        numeric=numeric,
        medians=np.asarray(medians, dtype=np.float32) if impute else None,
        categorical=categorical,
        seen=seen,
        frequent=frequent,
        unused=unused,
    )


def transform(encoder: Encoder, x: np.ndarray | None) -> np.ndarray | None:
    """The encoded float32 features: numbers (gaps filled), then one-hot blocks."""
    if x is None:
        return None
    numbers_only = not encoder.categorical and encoder.numeric == list(range(x.shape[1]))
    if numbers_only and (encoder.medians is None or not np.isnan(x).any()):
        return x  # numbers alone, no gap to fill: the split is already the input
    width = len(encoder.numeric) + sum(len(s) for s in encoder.seen)
    out = np.empty((len(x), width), dtype=np.float32)
    for place, index in enumerate(encoder.numeric):
        out[:, place] = x[:, index]
        if encoder.medians is not None:
            gaps = np.isnan(out[:, place])
            out[gaps, place] = encoder.medians[place]
    place = len(encoder.numeric)
    for index, seen, fill in zip(encoder.categorical, encoder.seen, encoder.frequent, strict=True):
        codes = x[:, index]
        if fill is not None:
            codes = np.where(np.isnan(codes), fill, codes)
        # a category first seen in validation or test data is all zeros, not an error
        out[:, place : place + len(seen)] = codes[:, None] == seen[None, :]
        place += len(seen)
    return out


def describe(table: Table, encoder: Encoder, impute: bool) -> dict[str, Any]:
    """What the run directory records of the columns trained on: kinds, categories, gaps."""
    numeric = [table.numeric[i] for i in encoder.numeric]
    n_numeric = len(table.numeric)
    categorical = [table.categorical[i - n_numeric] for i in encoder.categorical]
    info: dict[str, Any] = {"numeric": numeric}
    if categorical:
        info["categorical"] = {
            name: [table.categories[name][int(code)] for code in seen]
            for name, seen in zip(categorical, encoder.seen, strict=True)
        }
    left_out = {**table.left_out, **encoder.unused}
    if left_out:
        info["left_out"] = left_out
    gaps = {name: count for name, count in table.missing.items() if name not in encoder.unused}
    if gaps:
        info["missing"] = {"cells": gaps, "handled": "imputed" if impute else "dropped"}
    if impute and gaps:  # what filled the gaps, as learnt from the training split
        filled: dict[str, Any] = {}
        filled.update(
            zip(numeric, (float(f"{m:.6g}") for m in encoder.medians), strict=True)  # type: ignore[union-attr]
        )
        for name, fill in zip(categorical, encoder.frequent, strict=True):
            filled[name] = table.categories[name][int(fill)]
        info["missing"]["filled_with"] = {k: v for k, v in filled.items() if k in gaps}
    return info


def encoder_notes(encoder: Encoder) -> list[str]:
    """Said when training starts, like the columns left out while reading."""
    return [f"left out column {name!r}: {why}" for name, why in encoder.unused.items()]
