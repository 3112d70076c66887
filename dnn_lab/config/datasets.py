"""What is known of each dataset before loading it: task, shape, classes, scaling.

A leaf module (plain data, nothing of dnn_lab's but errors), so the config schema
can check ``data.dataset`` and ``dnn-lab datasets`` can list them without loading
anything, and without importing the loaders that depend on the config.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnn_lab.errors import DataError, did_you_mean


@dataclass(frozen=True, kw_only=True)
class DatasetInfo:
    """What is known of a dataset before (or without) loading it."""

    name: str
    description: str
    task: str | None  # binary / multiclass / regression; None: inferred from the data
    input_shape: tuple[int, ...] | None  # None: read from the file
    n_classes: int | None
    n_train: int | None
    n_test: int | None  # its own test set, if it has one
    default_scaling: str
    pixel_max: float | None = None  # what "pixels" scaling divides by
    class_names: tuple[str, ...] | None = None


_DIGITS = tuple(str(i) for i in range(10))

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="digits",
            description="8x8 handwritten digits (scikit-learn, ships with the package)",
            task="multiclass",
            input_shape=(8, 8),
            n_classes=10,
            n_train=1797,
            n_test=None,
            default_scaling="pixels",
            pixel_max=16.0,
            class_names=_DIGITS,
        ),
        DatasetInfo(
            name="iris",
            description="iris flowers, 4 measurements (scikit-learn)",
            task="multiclass",
            input_shape=(4,),
            n_classes=3,
            n_train=150,
            n_test=None,
            default_scaling="standard",
            class_names=("setosa", "versicolor", "virginica"),
        ),
        DatasetInfo(
            name="wine",
            description="wine cultivars, 13 chemical measurements (scikit-learn)",
            task="multiclass",
            input_shape=(13,),
            n_classes=3,
            n_train=178,
            n_test=None,
            default_scaling="standard",
            class_names=("class_0", "class_1", "class_2"),
        ),
        DatasetInfo(
            name="breast_cancer",
            description="breast tumours, malignant or benign (scikit-learn)",
            task="binary",
            input_shape=(30,),
            n_classes=2,
            n_train=569,
            n_test=None,
            default_scaling="standard",
            class_names=("malignant", "benign"),
        ),
        DatasetInfo(
            name="diabetes",
            description="diabetes progression after one year (scikit-learn)",
            task="regression",
            input_shape=(10,),
            n_classes=None,
            n_train=442,
            n_test=None,
            default_scaling="standard",
        ),
        DatasetInfo(
            name="fashion_mnist",
            description="28x28 clothing images, 10 classes (Keras; files needed offline)",
            task="multiclass",
            input_shape=(28, 28),
            n_classes=10,
            n_train=60000,
            n_test=10000,
            default_scaling="pixels",
            pixel_max=255.0,
            class_names=(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
        ),
        DatasetInfo(
            name="mnist",
            description="28x28 handwritten digits, 10 classes (Keras; files needed offline)",
            task="multiclass",
            input_shape=(28, 28),
            n_classes=10,
            n_train=60000,
            n_test=10000,
            default_scaling="pixels",
            pixel_max=255.0,
            class_names=_DIGITS,
        ),
        DatasetInfo(
            name="csv",
            description="your CSV file: data.path, data.target; text columns one-hot encoded",
            task=None,
            input_shape=None,
            n_classes=None,
            n_train=None,
            n_test=None,
            default_scaling="standard",
        ),
        DatasetInfo(
            name="parquet",
            description="your Parquet file: data.path, data.target; text columns one-hot encoded",
            task=None,
            input_shape=None,
            n_classes=None,
            n_train=None,
            n_test=None,
            default_scaling="standard",
        ),
        DatasetInfo(
            name="npz",
            description="your .npz file: x_train, y_train, optional x_test, y_test",
            task=None,
            input_shape=None,
            n_classes=None,
            n_train=None,
            n_test=None,
            default_scaling="standard",
            pixel_max=255.0,
        ),
    )
}

# Tables of named columns, data.target among them, read by dnn_lab.data.tabular
TABLE_DATASETS = ("csv", "parquet")


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``; a DataError for a name it does not hold."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}{did_you_mean(name, DATASETS)} Known: {', '.join(DATASETS)}"
        ) from None


def known_task(dataset: str, task: str = "auto") -> tuple[str, int | None] | None:
    """The task and class count the registry knows for ``dataset`` and the task a config asks.

    None when only the data can tell: a file (csv, parquet, npz), or a task other than the
    dataset's. Reads the registry alone, so ``dnn-lab validate`` loads nothing (not even
    numpy) for a built-in dataset.
    """
    info = dataset_info(dataset)
    if info.task is not None and task in ("auto", info.task):
        return info.task, info.n_classes
    return None
