"""Where a run's time went, from the moment the process started to the last file.

A five-epoch run spends most of its wall time outside its epochs (starting Python,
importing the framework, compiling), so ``metrics.json`` says how much went where
and ``dnn-lab show`` prints it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

# The phases in the order a run passes through them; ``show`` prints them in this order.
PHASES = (
    "startup",  # the interpreter, dnn-lab's own imports, reading the config
    "data",  # loading, checking, splitting and scaling the data
    "framework",  # importing Keras and its backend, choosing the device, seeding
    "build",  # building and compiling the model
    "compile",  # tracing (and XLA-compiling) the step during the first epoch
    "epochs",  # the epochs themselves, without that first compile
    "evaluation",  # test set and MC dropout
    "writing",  # the model file, curves and the rest of the run directory
)


def process_age() -> float:
    """Seconds since this process started (Linux); 0 where the system does not say."""
    from dnn_lab.store.runs import process_start_ticks

    ticks = process_start_ticks(os.getpid())
    try:
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
        return max(0.0, up - ticks / os.sysconf("SC_CLK_TCK")) if ticks is not None else 0.0
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


class Stopwatch:
    """Seconds per phase, and the total since ``origin`` (a ``perf_counter`` reading)."""

    def __init__(self, origin: float | None = None):
        now = time.perf_counter()
        self.origin = origin if origin is not None else now - process_age()
        self.seconds: dict[str, float] = {"startup": now - self.origin}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + max(0.0, seconds)

    def split_first_epoch(self, epoch_seconds: list[float]) -> None:
        """Charge the first epoch's excess over a typical epoch to ``compile``."""
        if not epoch_seconds:
            return
        later = sorted(epoch_seconds[1:])
        typical = later[len(later) // 2] if later else 0.0
        compile_seconds = max(0.0, epoch_seconds[0] - typical) if later else 0.0
        self.add("compile", compile_seconds)
        self.add("epochs", sum(epoch_seconds) - compile_seconds)

    def total(self) -> float:
        return time.perf_counter() - self.origin

    def to_json(self) -> dict[str, float]:
        ordered = {name: round(self.seconds[name], 3) for name in PHASES if name in self.seconds}
        ordered["other"] = round(max(0.0, self.total() - sum(self.seconds.values())), 3)
        ordered["total"] = round(self.total(), 3)
        return ordered
