"""Data the benchmark contenders share: digits or a Fashion-MNIST-shaped npz, split alike."""

from __future__ import annotations

import numpy as np


def load(source: str):
    """(x_train, y_train), (x_val, y_val): float32 in [0, 1], 20% validation, random_state 42."""
    from sklearn.model_selection import train_test_split

    if source == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x, y, scale = digits.images, digits.target, 16.0
    else:
        with np.load(source) as archive:
            x, y, scale = archive["x_train"], archive["y_train"], 255.0
    x = x.astype(np.float32) / np.float32(scale)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y.astype(np.int64), test_size=0.2, random_state=42, stratify=y
    )
    return (x_train, y_train), (x_val, y_val)
