"""One driver per sweep folder: an OS lock held for the driver's whole life.

The driver (``dnn-lab sweep``, new or ``--resume``) takes ``fcntl.flock`` on
``.lock`` in the sweep folder and keeps the file open until it exits; the kernel
releases the lock when the process ends, however it ends (SIGKILL and power loss
included), so a dead driver never blocks the next one. Beside the lock,
``driver.json`` names the holder (pid, host, start time) for people and for the
message a second driver prints; it is removed on a clean exit, so finding it
while taking the lock means the previous driver died and this one takes over.

Readers (``compare``, ``report``, ``runs``) never take the lock. On a network
filesystem the guarantee is only as good as its locking: see the README.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from dnn_lab.errors import DnnLabError
from dnn_lab.store import files, runs

LOCK_FILE = ".lock"  # flock()ed by the driver; never deleted, its content unused
DRIVER_FILE = "driver.json"  # who holds the lock: pid, host, started


class SweepBusyError(DnnLabError):
    """Another live driver holds the sweep folder."""


def _since(started: str | None) -> str:
    """``10:15:02`` for today, ``2026-11-21 10:15:02`` for an older start."""
    try:
        moment = datetime.fromisoformat(str(started))
    except ValueError:
        return str(started or "an unknown time")
    today = datetime.now(moment.tzinfo).date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%Y-%m-%d %H:%M:%S")


def read_driver(folder: Path) -> dict[str, Any] | None:
    """What ``driver.json`` says about the folder's driver, or None."""
    try:
        data = files.read_json(Path(folder) / DRIVER_FILE, files.MAX_TEXT_BYTES)
    except (OSError, files.FileRefused):
        return None
    return data if isinstance(data, dict) else None


def _describe(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process"
    return (
        f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {_since(info.get('started'))}"
    )


class DriverLock:
    """Hold a sweep folder as its one driver: ``with DriverLock(folder) as lock: ...``.

    Raises :class:`SweepBusyError` at once when a live driver holds it. After
    entering, ``took_over`` is a one-line note when a dead driver's claim was
    found (else None).
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.took_over: str | None = None
        self._fd: int | None = None

    def acquire(self) -> None:
        # O_CLOEXEC (Python's default): trial processes must not inherit the lock
        try:
            fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise DnnLabError(f"cannot lock {self.folder / LOCK_FILE}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SweepBusyError(
                f"{self.folder} is being run by {_describe(self._holder())}; "
                "wait for it, or stop it first"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise DnnLabError(f"cannot lock {self.folder / LOCK_FILE}: {exc.strerror}") from None
        self._fd = fd
        previous = read_driver(self.folder)
        if previous is not None:
            self.took_over = (
                f"note: taking over {self.folder} from {_describe(previous)}, "
                "which ended without releasing it"
            )
        runs.write_json(
            self.folder / DRIVER_FILE,
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            },
        )

    def _holder(self) -> dict[str, Any] | None:
        """The live holder's driver.json; it may be a moment behind its lock, so wait a bit."""
        deadline = time.monotonic() + 2.0
        info = read_driver(self.folder)
        while time.monotonic() < deadline:
            if info and _alive(info):
                return info
            time.sleep(0.05)
            info = read_driver(self.folder)
        return info

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            (self.folder / DRIVER_FILE).unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None

    def __enter__(self) -> DriverLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def _alive(info: dict[str, Any]) -> bool:
    """Whether driver.json names a live process; a process on another host counts as live."""
    if info.get("host") != socket.gethostname():
        return True
    pid = info.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
