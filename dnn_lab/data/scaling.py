"""Scaling fit on the training split only, applied alike to validation and test data."""

from __future__ import annotations

import numpy as np

from dnn_lab.errors import DataError


def scale(kind, x, x_val, x_test, pixel_max):
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
    return (
        *(None if a is None else _standardized(a, center, spread) for a in (x, x_val, x_test)),
        stats,
    )


def _standardized(values: np.ndarray, center: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """(values - center) / spread in one new array: a million-row table is copied once."""
    out = np.subtract(values, center, dtype=np.float32)
    out /= spread
    return out


def _value_range(values: np.ndarray) -> list[float]:
    """[min, max] of a statistic's per-feature values, to four significant digits."""
    return [float(f"{float(v):.4g}") for v in (values.min(), values.max())]
