"""Hostile files for the gate's tests, and a way to run a reader that cannot hang the suite.

``bounded`` runs a function in a forked child with a memory ceiling and a deadline: a
reader that blocks on a FIFO or reads ``/dev/zero`` until the memory is gone fails the
test instead of blocking it (or the machine).
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest

# the shapes a file of a run or sweep folder can take
SHAPES = (
    "regular",  # the file as dnn-lab wrote it
    "garbage",  # bytes that are no such file
    "truncated",  # cut short, as by a full disk
    "empty",
    "deep",  # 100,000 "[" (or as many as the example asks)
    "link inside",  # a symlink to a copy in the same folder: followed
    "link outside",  # a symlink to a file outside the folder: refused
    "dangling link",
    "fifo",  # a named pipe nobody writes to
    "device",  # a symlink to /dev/zero
    "huge",  # a sparse file far over any limit
    "folder",  # a folder at the file's name
)

MEMORY = 1024**3  # what a reader may add to the address space: far over any limit


def make_shape(path: Path, shape: str, content: bytes, size: int = 1 << 40) -> None:
    """Put ``shape`` at ``path``, standing for a file whose proper bytes are ``content``."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()
    if shape == "regular":
        path.write_bytes(content)
    elif shape == "garbage":
        path.write_bytes(b"\x00\xff[{\x1b]" * 50)
    elif shape == "truncated":
        path.write_bytes(content[: max(1, len(content) // 2)])
    elif shape == "empty":
        path.write_bytes(b"")
    elif shape == "deep":
        path.write_bytes(b"[" * 100_000)
    elif shape == "link inside":
        twin = path.with_name(f".{path.name}.real")
        twin.write_bytes(content)
        path.symlink_to(twin.name)
    elif shape == "link outside":
        outside = path.parent.parent / f"outside-{path.parent.name}-{path.name}"
        outside.write_bytes(content)
        path.symlink_to(outside)
    elif shape == "dangling link":
        path.symlink_to(path.parent / "no-such-file")
    elif shape == "fifo":
        os.mkfifo(path)
    elif shape == "device":
        path.symlink_to("/dev/zero")
    elif shape == "huge":
        with open(path, "wb") as handle:
            handle.truncate(size)  # sparse: no disk is used
    elif shape == "folder":
        path.mkdir()
    else:
        raise ValueError(shape)


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def bounded(fn, *args, timeout: float = 30.0, memory: int = MEMORY) -> Any:
    """``fn(*args)`` in a forked child with ``memory`` more bytes of address space at most.

    Returns what it returned (it must pickle). A child still running after ``timeout``
    seconds is killed and the test fails ("hung"); an exception in the child fails it too,
    named, with its traceback's last line.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory, hard))
            try:
                outcome = ("ok", fn(*args))
            except BaseException as exc:  # noqa: BLE001 (reported to the parent)
                outcome = ("raised", f"{type(exc).__name__}: {exc}"[:2000])
            data = pickle.dumps(outcome)
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view) :]
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_end], [], [], max(0.0, left))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"{getattr(fn, '__name__', fn)}{args!r} hung for {timeout:.0f}s")
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if not chunks:
        pytest.fail(f"{getattr(fn, '__name__', fn)}{args!r}: the child died without an answer")
    status, value = pickle.loads(b"".join(chunks))
    if status == "raised":
        pytest.fail(f"{getattr(fn, '__name__', fn)}{args!r} raised {value}")
    return value


def cli(*args: Any) -> tuple[int, str]:
    """``dnn-lab ARGS`` in-process (run it under ``bounded``): exit code and output.

    An exception the command did not turn into an exit code is reported with its name,
    so a traceback reads as exit code 1 with the exception's text in the output.
    """
    from typer.testing import CliRunner

    from dnn_lab.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nTRACEBACK {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output
