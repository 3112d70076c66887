"""The numpy split and digits reader against scikit-learn's own, index for index."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from dnn_lab.data.split import split_indices


@pytest.mark.parametrize("seed", [0, 1, 7, 42, 1234])
@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.25, 0.33, 0.5])
@pytest.mark.parametrize(
    "labels",
    [
        np.repeat(np.arange(10), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),  # digits
        np.array([0] * 50 + [1] * 7 + [2] * 3),  # unbalanced, with a rare class
        np.array([1.0, 0.0] * 33),  # binary labels as floats
        np.arange(40) % 3,
    ],
    ids=["digits", "unbalanced", "binary-float", "three"],
)
def test_stratified_split_matches_scikit_learn(seed, fraction, labels):
    x = np.arange(len(labels))
    _, _, _, _ = expected = train_test_split(
        x, labels, test_size=fraction, random_state=seed, stratify=labels
    )
    train, held_out = split_indices(len(x), fraction, seed, labels)
    np.testing.assert_array_equal(x[train], expected[0])
    np.testing.assert_array_equal(x[held_out], expected[1])


@pytest.mark.parametrize("seed", [0, 3, 42])
@pytest.mark.parametrize("samples,fraction", [(100, 0.2), (1797, 0.2), (13, 0.3), (5, 0.5)])
def test_plain_split_matches_scikit_learn(seed, samples, fraction):
    x = np.arange(samples)
    expected = train_test_split(x, test_size=fraction, random_state=seed)
    train, held_out = split_indices(samples, fraction, seed)
    np.testing.assert_array_equal(train, expected[0])
    np.testing.assert_array_equal(held_out, expected[1])
