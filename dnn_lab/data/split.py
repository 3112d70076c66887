"""Seeded train/held-out splits, identical to scikit-learn's ``train_test_split``.

Importing scikit-learn's model selection pulls in SciPy, about a second and a half
before the first epoch of every run. This is the same algorithm in numpy alone
(``ShuffleSplit``, and ``StratifiedShuffleSplit`` with its approximate-mode class
counts), drawn from the same ``RandomState`` in the same order, so a config gives the
split it always gave, and the one a plain script with ``train_test_split(...,
test_size=f, random_state=seed, stratify=y)`` gets. A test checks the two index for
index over many seeds, sizes and class balances.
"""

from __future__ import annotations

import math

import numpy as np


def split_sizes(samples: int, fraction: float) -> tuple[int, int]:
    """(train, held out) for a held-out fraction, rounded as scikit-learn rounds it."""
    held_out = math.ceil(fraction * samples)
    return samples - held_out, held_out


def split_indices(
    samples: int, fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and held-out rows; stratified by ``labels`` when given."""
    n_train, n_test = split_sizes(samples, fraction)
    rng = np.random.RandomState(seed)
    if labels is None:
        permutation = rng.permutation(samples)
        return permutation[n_test : n_test + n_train], permutation[:n_test]
    classes, y_indices, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for i in range(len(classes)):
        permutation = rng.permutation(class_counts[i])
        members = class_indices[i].take(permutation, mode="clip")
        train.append(members[: n_i[i]])
        test.append(members[n_i[i] : n_i[i] + t_i[i]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng) -> np.ndarray:
    """Per-class counts of ``n_draws`` rows, proportional, ties broken by ``rng``."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (candidates,) = np.where(remainder == value)
            add_now = min(len(candidates), need_to_add)
            floored[rng.choice(candidates, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)
