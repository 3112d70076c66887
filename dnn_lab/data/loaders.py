"""Where data comes from: one loader per dataset of the registry.

What is known before loading (task, shape, classes) is in ``dnn_lab.config.datasets``,
so ``validate`` and ``datasets`` answer without loading anything. Loaders return raw arrays; splits
and scaling happen in ``dnn_lab.data.prepare``. Nothing here imports Keras: Fashion-MNIST
and MNIST, when missing, are downloaded from where Keras's own loaders fetch them.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnn_lab.errors import DataError, did_you_mean

DATA_DIR_VARIABLE = "DNN_LAB_DATA"


@dataclass(kw_only=True)
class RawData:
    """Arrays as loaded, before splitting and scaling."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    source: str = ""
    feature_names: list[str] | None = None  # a CSV's columns, to name them in messages
    label_name: str = "y_train"  # the label column or array, to name it in messages
    lines: list[int] | None = None  # the file line of each sample, to point at a bad one


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


def _sklearn(loader_name: str) -> Callable[[str | None, str | None], RawData]:
    def load(path: str | None, target: str | None) -> RawData:
        from sklearn import datasets as sk

        bunch = getattr(sk, loader_name)()
        names = [str(n) for n in bunch.target_names] if hasattr(bunch, "target_names") else None
        return RawData(
            x=np.asarray(bunch.data, dtype=np.float32),
            y=np.asarray(bunch.target),
            class_names=names,
            source=f"sklearn.datasets.{loader_name}",
        )

    return load


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
            payload = handle.read()
    except (OSError, EOFError, struct.error) as exc:
        raise DataError(f"{path}: cannot read IDX file: {exc}") from None
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(payload) != expected:
        raise DataError(
            f"{path}: IDX header promises {shape} ({expected} bytes) but holds {len(payload)} bytes"
        )
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


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


def _find_files(name: str, path: str | None) -> tuple[Path, str] | None:
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
        found = _find_files(name, path)
        if found is None:
            _download(name, path)
            found = _find_files(name, path)
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
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    if isinstance(loaded, np.ndarray):  # a .npy file: one array, no names
        raise DataError(
            f"{path}: a single .npy array of shape {loaded.shape}, not an .npz archive; an npz "
            "dataset names its arrays: np.savez('data.npz', x_train=x, y_train=y)"
        )
    try:
        with loaded as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


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


def _read_text(path: Path) -> str:
    """A CSV file's text: UTF-8, with or without a BOM, gzip'ed or not."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: a damaged gzip file ({exc})") from None
    if raw[:4] == b"PK\x03\x04":
        raise DataError(f"{path}: a zip archive (an .npz?), not CSV text; set data.dataset: npz")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} (a Latin-1 or "
            "Windows-1252 file?); save it as UTF-8"
        ) from None


def _delimiter(text: str) -> str:
    """The field separator the header line uses most: comma, semicolon or tab."""
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _load_csv(path: str | None, target: str | None) -> RawData:
    """Numeric feature columns and the target column as text (``dnn_lab.data.labels`` reads it)."""
    if not path:
        raise DataError("data.dataset is csv but data.path is not set; name the .csv file")
    text = _read_text(Path(path))
    delimiter = _delimiter(text)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        # (line number, fields) of the non-blank rows; a quoted field may span lines
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0][1]]
    if target is None:
        raise DataError(
            f"{path}: set data.target to the label column (columns: {', '.join(header)})"
        )
    if target not in header:
        raise DataError(
            f"{path}: no column {target!r}"
            + did_you_mean(target, header)
            + f" Columns: {', '.join(header)}"
        )
    t_index = header.index(target)
    features, labels = [], []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {line} has {len(row)} fields, the header has {len(header)}"
            )
        features.append([cell for column, cell in enumerate(row) if column != t_index])
        labels.append(row[t_index].strip())
    return RawData(
        # cells as text: dnn_lab.data.tabular types the columns (numbers, categories...)
        x=np.asarray(features, dtype=str).reshape(len(features), len(header) - 1),
        y=np.asarray(labels, dtype=str),
        source=str(path),
        feature_names=[h for i, h in enumerate(header) if i != t_index],
        label_name=f"column {target!r}",
        lines=[line for line, _ in rows[1:]],
    )


# --------------------------------------------------------------------------- by name

Loader = Callable[[str | None, str | None], RawData]

# One loader per registry entry (``dnn_lab.config.datasets.DATASETS``); a test keeps them paired.
LOADERS: dict[str, Loader] = {
    "digits": _load_digits,
    "iris": _sklearn("load_iris"),
    "wine": _sklearn("load_wine"),
    "breast_cancer": _sklearn("load_breast_cancer"),
    "diabetes": _sklearn("load_diabetes"),
    "fashion_mnist": _idx_dataset("fashion_mnist"),
    "mnist": _idx_dataset("mnist"),
    "csv": _load_csv,
    "npz": _load_npz,
}


def load_raw(name: str, path: str | None, target: str | None) -> RawData:
    """The raw arrays of dataset ``name`` (a key of the registry), before splits and scaling."""
    return LOADERS[name](path, target)
