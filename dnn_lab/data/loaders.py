"""Where data comes from: one loader per dataset of the registry.

What is known before loading (task, shape, classes) is in ``dnn_lab.config.datasets``,
so ``validate`` and ``datasets`` answer without loading anything. Loaders return raw arrays; splits
and scaling happen in ``dnn_lab.data.prepare``. Nothing here imports Keras: Fashion-MNIST
and MNIST, when missing, are downloaded from where Keras's own loaders fetch them.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dnn_lab.data.files import FileIdentity, identity, regular_file
from dnn_lab.data.memory import check_memory, size_text
from dnn_lab.data.table_files import FileLines, TableRead, read_csv, read_parquet
from dnn_lab.errors import DataError

DATA_DIR_VARIABLE = "DNN_LAB_DATA"


@dataclass(kw_only=True)
class RawData:
    """Arrays as loaded, before splitting and scaling."""

    x: np.ndarray | None  # None for a table file: its columns are in ``columns``
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    source: str = ""
    feature_names: list[str] | None = None  # a CSV's columns, to name them in messages
    label_name: str = "y_train"  # the label column or array, to name it in messages
    lines: FileLines | None = None  # the file line of each sample, to point at a bad one
    columns: Any = None  # a table file's feature columns (pyarrow), typed by data.tabular
    file: FileIdentity | None = None  # data.path's absolute path, size and hash


# --------------------------------------------------------------------------- scikit-learn


def _load_digits(path: str | None, target: str | None) -> RawData:
    """The default dataset, as 8x8 images, read without importing scikit-learn (see embedded)."""
    from dnn_lab.data.embedded import load_digits

    images, labels = load_digits()
    return RawData(
        x=np.asarray(images, dtype=np.float32),
        y=np.asarray(labels),
        class_names=[str(n) for n in range(10)],
        source="sklearn.datasets.load_digits",
    )


def _labelled_table(name: str) -> Callable[[str | None, str | None], RawData]:
    def load(path: str | None, target: str | None) -> RawData:
        from dnn_lab.data.embedded import LABELLED_TABLES, load_labelled_table

        x, y, names = load_labelled_table(name)
        return RawData(
            x=np.asarray(x, dtype=np.float32),
            y=np.asarray(y),
            class_names=names,
            source=f"sklearn.datasets.{LABELLED_TABLES[name][0]}",
        )

    return load


def _load_diabetes(path: str | None, target: str | None) -> RawData:
    from dnn_lab.data.embedded import load_diabetes

    x, y = load_diabetes()
    return RawData(
        x=np.asarray(x, dtype=np.float32), y=np.asarray(y), source="sklearn.datasets.load_diabetes"
    )


# --------------------------------------------------------------------------- IDX (MNIST-style)

IDX_FILES = {
    "x": "train-images-idx3-ubyte.gz",
    "y": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read one (optionally gzipped) IDX file, the format MNIST and Fashion-MNIST ship in."""
    path = Path(path)
    size = regular_file(path).st_size
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            header = handle.read(4)
            if len(header) < 4 or header[0] != 0 or header[1] != 0:
                raise DataError(f"{path}: not an IDX file (bad magic number)")
            dtype_code, ndim = header[2], header[3]
            if dtype_code not in _IDX_DTYPES or ndim == 0:
                raise DataError(f"{path}: unsupported IDX type 0x{dtype_code:02x} / {ndim} dims")
            shape = struct.unpack(f">{ndim}I", handle.read(4 * ndim))
            dtype = np.dtype(_IDX_DTYPES[dtype_code])
            expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
            _check_declared(path, shape, dtype, expected, size, compressed=opener is gzip.open)
            payload = handle.read(expected + 1)  # never more than the header promises
    except (OSError, EOFError, struct.error) as exc:
        raise DataError(f"{path}: cannot read IDX file: {exc}") from None
    if len(payload) != expected:
        raise DataError(
            f"{path}: IDX header promises {shape} ({expected} bytes) but holds {len(payload)} bytes"
        )
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


# gzip shrinks data at most about a thousandfold; a header promising more is a lie
MAX_GZIP_RATIO = 1032


def _check_declared(
    path: Path, shape: tuple, dtype: np.dtype, declared: int, size: int, compressed: bool
) -> None:
    """Refuse a header whose shape the file cannot hold or the memory cannot take."""
    room = size * MAX_GZIP_RATIO if compressed else size
    what = f"{path}: the header declares shape {tuple(int(d) for d in shape)} of {dtype.name}"
    if declared > room:
        raise DataError(
            f"{what} ({size_text(declared)}), but the file is {size_text(size)}"
            f"{' compressed' if compressed else ''}: a damaged or forged file"
        )
    check_memory(declared, f"{what} ({size_text(declared)})", "use a smaller file")


def _keras_cache_dir() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def _idx_candidates(name: str, path: str | None) -> list[Path]:
    folder = {"fashion_mnist": "fashion-mnist", "mnist": "mnist"}[name]
    places: list[Path] = []
    if path:
        places.append(Path(path))
    if os.environ.get(DATA_DIR_VARIABLE):
        base = Path(os.environ[DATA_DIR_VARIABLE])
        places += [base / folder, base / name, base]
    places.append(_keras_cache_dir() / folder)
    return places


def find_files(name: str, path: str | None) -> tuple[Path, str] | None:
    for place in _idx_candidates(name, path):
        if all((place / f).is_file() for f in IDX_FILES.values()):
            return place, "idx"
        if name == "mnist" and (place / "mnist.npz").is_file():
            return place, "npz"
    # Keras keeps mnist as one npz at the top of its cache
    if name == "mnist" and (_keras_cache_dir() / "mnist.npz").is_file():
        return _keras_cache_dir(), "npz"
    return None


def _idx_dataset(name: str) -> Callable[[str | None, str | None], RawData]:
    def load(path: str | None, target: str | None) -> RawData:
        found = find_files(name, path)
        if found is None:
            _download(name, path)
            found = find_files(name, path)
        if found is None:  # pragma: no cover - the files went somewhere unexpected
            raise DataError(_missing_files_message(name, path, "the download left no files"))
        place, kind = found
        if kind == "npz":
            arrays = _read_npz(place / "mnist.npz")
            return RawData(
                x=arrays["x_train"],
                y=arrays["y_train"],
                x_test=arrays.get("x_test"),
                y_test=arrays.get("y_test"),
                source=str(place / "mnist.npz"),
            )
        parts = {key: read_idx(place / file) for key, file in IDX_FILES.items()}
        for split in ("", "_test"):
            if len(parts["x" + split]) != len(parts["y" + split]):
                raise DataError(
                    f"{place}: {len(parts['x' + split])} images but "
                    f"{len(parts['y' + split])} labels"
                )
        return RawData(
            x=parts["x"],
            y=parts["y"],
            x_test=parts["x_test"],
            y_test=parts["y_test"],
            source=str(place),
        )

    return load


# Where Keras's own loaders fetch these files from; DNN_LAB_DATASETS_URL points elsewhere
# (a mirror inside a company network, or a local server in the tests).
DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DOWNLOAD_TIMEOUT_SECONDS = 30  # a blocked network should fail, not hang


def _download(name: str, path: str | None) -> None:
    """Fetch the files into Keras's cache folder, where Keras itself would keep them.

    Each file is written under a temporary name and renamed, so an interrupted download
    never leaves half a file that looks whole. Without a network, explain what to do.
    """
    import tempfile
    import urllib.request

    base = os.environ.get("DNN_LAB_DATASETS_URL", DATASETS_URL).rstrip("/") + "/"
    if name == "mnist":
        wanted = {"mnist.npz": _keras_cache_dir() / "mnist.npz"}
    else:
        folder = _idx_candidates(name, None)[-1]
        wanted = {f: folder / f for f in IDX_FILES.values()}
    try:
        for remote, local in wanted.items():
            if local.is_file():
                continue
            local.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(base + remote, timeout=DOWNLOAD_TIMEOUT_SECONDS) as answer:
                handle, partial = tempfile.mkstemp(dir=local.parent, prefix=".partial.")
                try:
                    with os.fdopen(handle, "wb") as out:
                        while chunk := answer.read(1 << 20):
                            out.write(chunk)
                    os.replace(partial, local)
                finally:
                    if os.path.exists(partial):
                        os.unlink(partial)
    except Exception as exc:  # any failure of the download is the same to the user
        raise DataError(
            _missing_files_message(name, path, f"{type(exc).__name__}: {exc}")
        ) from None


def _missing_files_message(name: str, path: str | None, reason: str) -> str:
    folder = _idx_candidates(name, None)[-1]
    files = ", ".join(IDX_FILES.values())
    where = [f"data.path ({path})"] if path else []
    where += [f"${DATA_DIR_VARIABLE}/{folder.name}/", str(folder) + "/"]
    extra = " (or Keras's mnist.npz)" if name == "mnist" else ""
    return (
        f"dataset {name!r} is not on this machine and could not be downloaded ({reason.strip()}). "
        f"Put the four files {files}{extra} in one of: {', '.join(where)}"
    )


# --------------------------------------------------------------------------- user files


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    regular_file(path)
    try:
        loaded = np.load(path, allow_pickle=False, mmap_mode="r")
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    if isinstance(loaded, np.ndarray):  # a .npy file (mapped, not read): one array, no names
        shape = loaded.shape
        del loaded
        raise DataError(
            f"{path}: a single .npy array of shape {shape}, not an .npz archive; an npz "
            "dataset names its arrays: np.savez('data.npz', x_train=x, y_train=y)"
        )
    try:
        with loaded as archive:
            _check_npz_headers(path, archive)
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


def _check_npz_headers(path: Path, archive) -> None:
    """Each array's declared size against what its member holds and the memory, unread."""
    from numpy.lib import format as npy

    total = 0
    for info in archive.zip.infolist():
        with archive.zip.open(info) as member:
            version = npy.read_magic(member)
            read_header = (
                npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            )
            shape, _, dtype = read_header(member)
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if declared > info.file_size:
            raise DataError(
                f"{path}: array {info.filename.removesuffix('.npy')} declares shape {shape} of "
                f"{dtype} ({size_text(declared)}), but holds {size_text(info.file_size)}: a "
                "damaged or forged file"
            )
        total += declared
    check_memory(total, f"{path}: arrays of {size_text(total)}", "use a smaller file")


def _load_npz(path: str | None, target: str | None) -> RawData:
    if not path:
        raise DataError("data.dataset is npz but data.path is not set; name the .npz file")
    arrays = _read_npz(Path(path))
    missing = [key for key in ("x_train", "y_train") if key not in arrays]
    if missing:
        raise DataError(
            f"{path}: missing array(s) {', '.join(missing)}; an npz dataset holds x_train, "
            f"y_train and optionally x_test, y_test (found: {', '.join(arrays) or 'nothing'})"
        )
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: x_test and y_test come together; found only one of them")
    for key in arrays:
        if arrays[key].dtype == object:
            raise DataError(f"{path}: array {key} holds Python objects, not numbers")
    return RawData(
        x=arrays["x_train"],
        y=arrays["y_train"],
        x_test=arrays.get("x_test"),
        y_test=arrays.get("y_test"),
        source=str(path),
    )


def _load_csv(path: str | None, target: str | None) -> RawData:
    """Numeric feature columns and categories as Arrow columns; the target as numbers or text."""
    if not path:
        raise DataError("data.dataset is csv but data.path is not set; name the .csv file")
    return _table_data(path, read_csv(Path(path), target), target)


def _load_parquet(path: str | None, target: str | None) -> RawData:
    if not path:
        raise DataError("data.dataset is parquet but data.path is not set; name the file")
    return _table_data(path, read_parquet(Path(path), target), target)


def _table_data(path: str, read: TableRead, target: str | None) -> RawData:
    return RawData(
        x=None,
        columns=read.columns,
        y=read.target,
        source=str(path),
        feature_names=read.names,
        label_name=f"column {target!r}",
        lines=read.lines,
    )


# --------------------------------------------------------------------------- by name

Loader = Callable[[str | None, str | None], RawData]

# One loader per registry entry (``dnn_lab.config.datasets.DATASETS``); a test keeps them paired.
LOADERS: dict[str, Loader] = {
    "digits": _load_digits,
    "iris": _labelled_table("iris"),
    "wine": _labelled_table("wine"),
    "breast_cancer": _labelled_table("breast_cancer"),
    "diabetes": _load_diabetes,
    "fashion_mnist": _idx_dataset("fashion_mnist"),
    "mnist": _idx_dataset("mnist"),
    "csv": _load_csv,
    "npz": _load_npz,
    "parquet": _load_parquet,
}


def load_raw(name: str, path: str | None, target: str | None) -> RawData:
    """The raw arrays of dataset ``name`` (a key of the registry), before splits and scaling.

    A file named by ``data.path`` is recorded by its absolute path, size and SHA-256.
    """
    if not (path and name in FILE_DATASETS):
        return LOADERS[name](path, target)
    # hashed on another core while the file is parsed (both release the GIL)
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashed = pool.submit(identity, path)
        raw = LOADERS[name](path, target)
        raw.file = hashed.result()
    return raw


FILE_DATASETS = ("csv", "npz", "parquet")  # data.path is one file (not a folder of IDX files)
