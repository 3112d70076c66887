"""Which way a metric is better, and the best epoch of a history: one idea, one place.

Training (the best epoch it keeps), sweeps (the value a trial reports) and the readers
(compare, studies) all ask the same two questions; they ask them here.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from typing import Any

# Metric names whose larger values are better; everything else (loss, mae, mse...) is smaller.
_HIGHER_IS_BETTER = ("accuracy", "auc", "precision", "recall", "r2", "f1")


class Direction(str, enum.Enum):
    """``max`` for accuracy-like metrics, ``min`` for losses and errors.

    The values are the words Keras's callbacks take as ``mode``, and what ``sweep.json``
    has always stored, so the enum is written to disk as a plain string.
    """

    MAX = "max"
    MIN = "min"

    @classmethod
    def of(cls, metric: str) -> Direction:
        """The direction of a metric from its name (``val_accuracy`` -> MAX)."""
        name = metric.lower()
        return cls.MAX if any(word in name for word in _HIGHER_IS_BETTER) else cls.MIN

    @property
    def higher_is_better(self) -> bool:
        return self is Direction.MAX

    @property
    def optuna(self) -> str:
        """Optuna's word for it."""
        return "maximize" if self is Direction.MAX else "minimize"

    def better(self, a: float, b: float) -> bool:
        """Is ``a`` strictly better than ``b``?"""
        return a > b if self is Direction.MAX else a < b

    def best(self, values: Iterable[float]) -> float | None:
        """The best finite value, or None when there is none."""
        # a float is finite where v - v is 0 (not for NaN, inf): the common case, in one step
        finite = [v for v in values if (v - v == 0 if type(v) is float else is_finite_number(v))]
        if not finite:
            return None
        return max(finite) if self is Direction.MAX else min(finite)

    @property
    def reversed(self) -> Direction:
        """The other way round (``--reverse``)."""
        return Direction.MIN if self is Direction.MAX else Direction.MAX

    def sort_key(self, value: float) -> float:
        """A key that sorts best first with ``sorted`` (ascending)."""
        return -value if self is Direction.MAX else value


def is_finite_number(value: Any) -> bool:
    """A number a float can hold: not a bool, NaN, infinite, or an int beyond float range."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int with hundreds of digits, from a damaged file
        return False


def best_row(
    rows: Sequence[dict[str, Any]], metric: str, direction: Direction | None = None
) -> dict[str, Any] | None:
    """The history row (one per epoch) where ``metric`` was best; the first of ties."""
    direction = direction or Direction.of(metric)
    scored = [row for row in rows if is_finite_number(row.get(metric))]
    if not scored:
        return None
    pick = max if direction is Direction.MAX else min
    return pick(scored, key=lambda row: row[metric])
