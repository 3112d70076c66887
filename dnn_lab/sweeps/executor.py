"""What the runner needs from an executor: start a trial, watch it, stop it, tidy up.

Two executors answer it: warm worker processes on this machine
(:mod:`dnn_lab.sweeps.workers`, the default) and tasks on a Ray cluster
(:mod:`dnn_lab.sweeps.ray_executor`). The runner decides when trials start and end and
never asks which executor it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dnn_lab.sweeps.state import Trial

LOCAL = "local"
RAY = "ray"


@dataclass(frozen=True, kw_only=True)
class ExecutorOptions:
    """Where a sweep's trials run, from ``dnn-lab sweep --executor ...``."""

    kind: str = LOCAL  # local: warm worker processes here; ray: tasks on a Ray cluster
    address: str | None = None  # Ray: the cluster; None: RAY_ADDRESS, else a Ray of our own
    cpus_per_trial: float = 1.0  # Ray: CPUs a trial reserves (and its threads)
    gpus_per_trial: float = 0.0  # Ray: GPUs a trial reserves; fractions share a GPU


class TrialHandle(Protocol):
    """A started trial, as the runner sees it: it reports, and never writes the trial."""

    trial: Trial
    slot: int
    reported: int  # history rows already shown to the search

    def poll(self) -> int | None:
        """The trial's exit code once it has ended (as ``dnn-lab train`` would exit)."""

    def stop(self) -> None:
        """Ask the trial to stop; it ends ``interrupted``."""

    def kill(self) -> None:
        """Stop the trial at once."""

    def run_dir(self) -> Path | None:
        """The trial's run directory in the sweep folder, once there is one (the runner
        records it in the trial)."""


class TrialPool(Protocol):
    """Starts trials and owns whatever runs them."""

    def start(self, trial: Trial, slot: int) -> TrialHandle: ...

    def finished(self, handle: TrialHandle, healthy: bool) -> None:
        """A trial has ended and been recorded."""

    def close(self, kill: bool = False) -> None:
        """Release everything; ``kill``: running trials are abandoned."""
