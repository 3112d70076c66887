"""Data files before they are read: regular files only, and what identifies them.

A loader asks here first, so ``/dev/zero``, a FIFO or a device is refused at once (never
read until the kernel kills the process, never waited on).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from dnn_lab.config.loading import file_kind
from dnn_lab.errors import DataError

HASH_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class FileIdentity:
    """What the resolved config records of a data file, so a changed file is noticed."""

    path: str  # absolute
    size: int
    sha256: str


def regular_file(path: str | Path) -> os.stat_result:
    """The file's status; a DataError unless it is a regular file that exists.

    ``os.stat`` follows a symlink to what it points at, so a link to ``/dev/zero`` is a
    device here. Nothing is opened: a FIFO would block until a writer came.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    kind = file_kind(status.st_mode)
    if kind is not None:
        raise DataError(f"{path} is {kind}, not a data file; data.path names a regular file")
    return status


def identity(path: str | Path) -> FileIdentity:
    """The absolute path, size and SHA-256 of a data file (read in chunks: any size)."""
    regular_file(path)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return FileIdentity(path=os.path.abspath(path), size=size, sha256=digest.hexdigest())
