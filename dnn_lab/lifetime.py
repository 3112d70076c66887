"""Helper processes that end with the process that started them (Linux).

A sweep's workers and a run's curve painter are children that must never outlive
their parent: a worker left training unwatched would run beside the trial a resumed
sweep starts again. Linux lets a process ask the kernel for a signal when its parent
dies, however it dies (SIGKILL included); elsewhere this does nothing.
"""

from __future__ import annotations

import os
import signal

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def end_with_parent(signum: int = signal.SIGTERM) -> None:
    """Have the kernel send ``signum`` to this process when its parent dies.

    Safe to call in a ``preexec_fn``: it looks nothing up that could need a lock.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), signum)


def killed_with_parent() -> None:
    """For a child with nothing to save (a ``preexec_fn``): SIGKILL when the parent dies."""
    end_with_parent(signal.SIGKILL)
