"""The dataset table: a leaf of config every part may read, paired with one loader per dataset."""

from __future__ import annotations

import pytest

from dnn_lab.config.datasets import DATASETS, DatasetInfo, dataset_info, known_task
from dnn_lab.data.loaders import LOADERS
from dnn_lab.errors import DataError


def test_every_dataset_has_a_loader_and_its_own_name():
    assert set(LOADERS) == set(DATASETS)
    assert all(name == info.name for name, info in DATASETS.items())


def test_dataset_info_is_keyword_only():
    with pytest.raises(TypeError):
        DatasetInfo("x", "y", None, None, None, None, None, "standard")  # type: ignore[misc]


def test_unknown_dataset_is_a_data_error():
    assert dataset_info("iris").n_classes == 3
    with pytest.raises(DataError, match="unknown dataset .irs.; did you mean .iris.?"):
        dataset_info("irs")


def test_known_task_reads_the_registry_alone():
    assert known_task("breast_cancer") == ("binary", 2)
    assert known_task("iris", "multiclass") == ("multiclass", 3)
    assert known_task("diabetes", "auto") == ("regression", None)
    assert known_task("iris", "regression") is None  # a task the data must be read for
    assert known_task("csv") is None and known_task("npz") is None
    # the class count is the registry's own, so a binary entry must say 2
    assert all(info.n_classes == 2 for info in DATASETS.values() if info.task == "binary")
