"""The one gate for the files of run and sweep folders: bounded reads, safe writes.

Every file dnn-lab reads back from a run or sweep folder comes through ``open_regular``
(or ``read_bytes``, ``read_text``, ``read_json`` on top of it), and every file it writes
there goes through ``atomic_write_bytes`` or ``open_for_writing``. What the gate holds:

- Only regular files are read. A FIFO, a device (``/dev/zero``), a socket or a folder at a
  file's name is refused without blocking (the file is opened with ``O_NONBLOCK``).
- Each kind of file has a size limit (the constants below); a larger file is refused before
  it is read, and no more than the limit is ever read (a file that grows, or ``/proc``).
- A symlink is followed only while it stays inside the folder that holds the file (or the
  folder the caller names): a run's ``config.yaml`` linked to ``/etc/passwd`` is refused.
- JSON nested deeper than ``MAX_JSON_DEPTH`` is refused with a message, never a
  ``RecursionError``.
- A write never goes through a link: files are written to a temporary name in the folder
  and renamed over the old name (which replaces a symlink, not what it points at), and a
  file kept open for appending (a log) is opened with ``O_NOFOLLOW`` after any link, FIFO,
  device or hard-linked file at that name has been removed.

Nothing here imports Keras.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dnn_lab.errors import DnnLabError

KIB, MIB = 1024, 1024 * 1024
# What each kind of file may weigh. Far above what dnn-lab writes (a run.json is a few KiB,
# a history.csv of 10,000 epochs about 1 MiB); far below what would strain the memory.
MAX_RUN_BYTES = 16 * MIB  # run.json (holds the resolved config)
MAX_METRICS_BYTES = 16 * MIB  # metrics.json
MAX_PARAMS_BYTES = 32 * MIB  # params.json: one row per layer
MAX_HISTORY_BYTES = 64 * MIB  # history.csv: one row per epoch
MAX_DIAGNOSTICS_BYTES = 128 * MIB  # diagnostics.csv: a row per epoch, layer and statistic
MAX_SWEEP_BYTES = 64 * MIB  # sweep.json: one record per trial
MAX_CONFIG_BYTES = 256 * KIB  # config.yaml, base.yaml: as for a config a user writes
MAX_TEXT_BYTES = 4 * MIB  # summary.txt, report.md/html, driver.json, small records
MAX_LOG_TAIL_BYTES = 64 * KIB  # what is read from the end of a trial's log
MAX_IMAGE_BYTES = 64 * MIB  # curves.png and the report's figures, when exported
MAX_MODEL_BYTES = 8 * 1024 * MIB  # model.keras, when exported (copied in chunks, not held)
MAX_JSON_DEPTH = 32  # a run or sweep file nests a few levels; far deeper is damage

_CHUNK = MIB


class FileRefused(DnnLabError):
    """A file of a run or sweep folder that the gate will not read or write; says why."""


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()  # mkstemp makes 0600 files; run files should read like any other


# --------------------------------------------------------------------------- reading


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _inside(path: Path, folder: Path) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


@contextlib.contextmanager
def open_regular(path: Path, limit: int, inside: Path | None = None) -> Iterator[IO[bytes]]:
    """``path`` opened for reading in binary, once it is known to be safe to read.

    Args:
        path: the file.
        limit: the most bytes it may hold.
        inside: the folder a symlink must stay in; default the file's own folder.

    Raises:
        FileNotFoundError: there is no such file (callers treat that as their own case).
        FileRefused: it is not a regular file, it is over ``limit``, it links outside
            ``inside``, or it cannot be read.
    """
    path = Path(path)
    folder = Path(inside) if inside is not None else path.parent
    if not _inside(path, folder):
        raise FileRefused(f"{path}: links to {os.path.realpath(path)}, outside {folder}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FileRefused(f"{path}: cannot read it: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{path} is {_kind(info.st_mode)}, not a file dnn-lab reads")
        if info.st_size > limit:
            raise FileRefused(f"{path}: {info.st_size:,} bytes, over the {limit:,}-byte limit")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bytes(path: Path, limit: int, inside: Path | None = None) -> bytes:
    """A file's bytes through the gate (see ``open_regular``); never more than ``limit``."""
    with open_regular(path, limit, inside) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise FileRefused(f"{path}: cannot read it: {exc.strerror}") from None
    if len(data) > limit:  # it grew while being read, or reports no size (/proc)
        raise FileRefused(f"{path}: over the {limit:,}-byte limit")
    return data


def read_text(path: Path, limit: int, inside: Path | None = None, errors: str = "strict") -> str:
    """A UTF-8 file's text through the gate; bad UTF-8 is ``FileRefused`` unless ``errors``."""
    data = read_bytes(path, limit, inside)
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read_tail(path: Path, limit: int = MAX_LOG_TAIL_BYTES) -> str:
    """The last ``limit`` bytes of a regular file (a log of any size), as text."""
    with open_regular(path, limit=2**62) as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(max(0, size - limit))
        data = handle.read(limit)
    return data.decode("utf-8", errors="replace")


def read_json(path: Path, limit: int, inside: Path | None = None) -> Any:
    """A JSON file through the gate, parsed; see ``parse_json``."""
    return parse_json(read_bytes(path, limit, inside), str(path))


def parse_json(raw: bytes | str, where: str) -> Any:
    """JSON text parsed, with NaN as JSON's writers in Python allow it.

    Raises:
        FileRefused: not JSON (the message names the line and column), or nested deeper
            than ``MAX_JSON_DEPTH``.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FileRefused(
            f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    except RecursionError:
        raise FileRefused(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # bad UTF-8, a 5,000-digit integer
        raise FileRefused(f"{where}: not valid JSON: {exc}") from None
    brackets = raw.count(b"[" if isinstance(raw, bytes) else "[") + raw.count(
        b"{" if isinstance(raw, bytes) else "{"
    )
    if brackets > MAX_JSON_DEPTH and depth(data) > MAX_JSON_DEPTH:  # counting is quick
        raise FileRefused(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion; stops past the limit)."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest, stack = 1, [(value, 1)]
    while stack and deepest <= MAX_JSON_DEPTH:
        node, level = stack.pop()
        deepest = max(deepest, level)
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, level + 1))
    return deepest


def copy_file(path: Path, target: Path, limit: int, inside: Path | None = None) -> None:
    """Copy ``path`` through the gate to ``target`` (a fresh file), in chunks."""
    with open_regular(path, limit, inside) as source, open(target, "xb") as out:
        copied = 0
        while chunk := source.read(_CHUNK):
            copied += len(chunk)
            if copied > limit:
                raise FileRefused(f"{path}: over the {limit:,}-byte limit")
            out.write(chunk)


def sha256(path: Path) -> str:
    """The SHA-256 of a file the caller made or checked (a copy ``copy_file`` wrote)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- writing


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` so a reader sees the old file or the new one, never half.

    ``durable`` also flushes it to the disk before the rename, so that it survives a power
    cut; files rewritten every epoch skip that (milliseconds each) and are made durable
    once at the end.
    """
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half.

    The data goes to a temporary name in the same folder, then is renamed over ``path``:
    a symlink or a hard link at ``path`` is replaced, never written through. ``durable``
    as for ``atomic_write_text``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def open_for_writing(path: Path, append: bool = False) -> int:
    """A descriptor to write ``path`` (a log other processes write into), never through a link.

    Anything at ``path`` but a regular file of one link (a symlink, a FIFO, a device, a
    hard link to another file) is removed first: the name is replaced, what it pointed at
    is left alone. A folder there is refused.

    Raises:
        FileRefused: a folder is at ``path``, or it cannot be opened.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    flags |= os.O_APPEND if append else os.O_TRUNC
    for _ in range(3):  # another process may put a link back between the checks
        with contextlib.suppress(FileNotFoundError):
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode):
                raise FileRefused(f"{path} is a folder; cannot write a file there")
            if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                os.unlink(path)
        try:
            fd = os.open(path, flags, _FILE_MODE)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EEXIST):
                continue
            raise FileRefused(f"cannot write {path}: {exc.strerror}") from None
        if stat.S_ISREG(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
            return fd
        os.close(fd)
    raise FileRefused(f"cannot write {path}: something keeps replacing it")
