"""What a run or a trial is at: one enum, written to ``run.json`` and ``sweep.json`` as text.

A ``str`` enum: a member equals, hashes and prints as its value, so files written before
it existed read back the same and JSON holds the plain word.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """A run's status (``run.json``), and a sweep trial's (``sweep.json``)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    DIVERGED = "diverged"
    # Not written by anyone: what a reader calls a run whose run.json still says
    # "running" although the process that wrote it is gone (killed with SIGKILL,
    # power loss; only decidable on the machine that ran it), and one it cannot read.
    CRASHED = "crashed"
    DAMAGED = "damaged"
    # A sweep trial's only
    PENDING = "pending"  # not started yet (or to run again after an interruption)
    PRUNED = "pruned"  # stopped by its search: Optuna's pruner, or a hyperband rung
    PROMOTED = "promoted"  # hyperband: completed its rung, and its setting went on

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# What a run directory can be at, as ``dnn-lab runs --status`` offers them.
RUN_STATUSES = (
    Status.RUNNING,
    Status.COMPLETED,
    Status.FAILED,
    Status.INTERRUPTED,
    Status.DIVERGED,
    Status.CRASHED,
    Status.DAMAGED,
)
