"""One Direction for every metric, and one best-epoch rule, used by training and readers."""

from __future__ import annotations

import math

import pytest

from dnn_lab.config.head import resolve_head
from dnn_lab.config.loading import validate_config
from dnn_lab.direction import Direction, best_row
from dnn_lab.training.evaluation import summarize_history
from tests.conftest import TINY, merge


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        ("val_accuracy", Direction.MAX),
        ("val_auc", Direction.MAX),
        ("r2", Direction.MAX),
        ("val_loss", Direction.MIN),
        ("mae", Direction.MIN),
        ("run", Direction.MIN),
    ],
)
def test_direction_of_a_metric(metric, direction):
    assert Direction.of(metric) is direction
    assert direction.reversed is not direction and direction.reversed.reversed is direction


def test_best_row_skips_non_finite_values_and_keeps_the_first_of_ties():
    rows = [
        {"epoch": 1, "val_loss": math.nan, "val_accuracy": 0.5},
        {"epoch": 2, "val_loss": 0.3, "val_accuracy": 0.9},
        {"epoch": 3, "val_loss": 0.3, "val_accuracy": 0.9},
        {"epoch": 4, "val_loss": None, "val_accuracy": math.inf},
    ]
    assert best_row(rows, "val_accuracy")["epoch"] == 2
    assert best_row(rows, "val_loss")["epoch"] == 2
    assert best_row(rows, "val_loss", Direction.MAX)["epoch"] == 2
    assert best_row(rows, "missing") is None


def test_head_direction_and_the_mode_keras_callbacks_take():
    classifier = resolve_head(validate_config(merge(TINY, {})), "multiclass", 10)
    assert classifier.monitor == "val_accuracy" and classifier.direction is Direction.MAX
    assert classifier.mode == "max"
    regression = resolve_head(
        validate_config(merge(TINY, {"data": {"dataset": "diabetes"}})), "regression", None
    )
    assert regression.monitor == "val_loss" and regression.direction is Direction.MIN
    assert regression.mode == "min"


def test_summarize_history_uses_the_one_best_row_rule():
    head = resolve_head(validate_config(merge(TINY, {})), "multiclass", 10)
    rows = [
        {"epoch": 1, "loss": 1.0, "val_accuracy": 0.5, "seconds": 1.0},
        {"epoch": 2, "loss": 0.5, "val_accuracy": 0.8, "seconds": 0.5},
        {"epoch": 3, "loss": 0.4, "val_accuracy": 0.8, "seconds": 0.5},
    ]
    summary = summarize_history(rows, head)
    assert summary["best_epoch"] == 2 and summary["best"] == {"loss": 0.5, "val_accuracy": 0.8}


def test_the_best_value_is_the_best_finite_number():
    import numpy as np

    values = [0.5, float("nan"), float("inf"), -float("inf"), None, True, "0.9", 10**400, 2, 0.7]
    assert Direction.MAX.best(values) == 2 and Direction.MIN.best(values) == 0.5
    assert Direction.MAX.best([np.float64(0.3), np.float64("nan")]) == 0.3  # a float subclass
    assert Direction.MIN.best([float("nan"), None, False]) is None
