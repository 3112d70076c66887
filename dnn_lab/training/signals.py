"""SIGINT and SIGTERM for the whole of one training, from the data to the last file.

Installed by ``train()`` before anything else happens, not only around ``fit``: a
signal that arrives while the framework starts or the first step compiles must end
the run too. A ``KeyboardInterrupt`` alone is not enough there, because library code
can swallow one (an exception raised inside a ``__del__`` or under a bare ``except:``
is dropped), so the signal is also remembered, and the trainer asks again before it
creates the run directory and before it fits. Imports no Keras.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from dnn_lab.errors import Interrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_STARTING = "starting"  # no run directory yet: stop at once
_RUNNING = "running"  # a run directory: the first signal stops after the current batch
_FINISHING = "finishing"  # the last files: nothing stops them


class StopSignals:
    """What a SIGINT or SIGTERM does at each stage of a run; every one is remembered.

    - Starting (until ``defer()``): it stops the run at once (``KeyboardInterrupt``);
      nothing has been written.
    - Running (``defer()``, called before the run directory is created): the first one
      is only remembered, so training stops after the current batch and the run records
      itself ``interrupted``; a second one stops at once.
    - Finishing (``hold()``): only remembered, so the last files are written whole.
    """

    def __init__(self):
        self.received: int | None = None
        self._stage = _STARTING
        self._previous: dict[int, Any] = {}
        self._previous_hook = sys.unraisablehook

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
            self._previous_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._previous:
            sys.unraisablehook = self._previous_hook
        self._previous = {}

    def _unraisable(self, unraisable) -> None:
        """Python reports an exception it had to drop (one raised in a ``__del__`` or a
        garbage-collector callback); a KeyboardInterrupt of ours is remembered anyway."""
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and self.received is not None:
            return
        self._previous_hook(unraisable)

    def defer(self) -> None:
        """From now on the first signal only asks training to stop after its batch."""
        self._stage = _RUNNING

    def hold(self) -> None:
        """From now on signals are only remembered: the run's last files are being written."""
        self._stage = _FINISHING

    def raise_if_received(self) -> None:
        """Raise ``Interrupted`` if a signal has arrived, even one whose exception was lost."""
        if self.received is not None:
            raise Interrupted(self.received)

    def _handle(self, signum, frame) -> None:
        first = self.received is None
        if first:
            self.received = signum
        if self._stage == _STARTING or (self._stage == _RUNNING and not first):
            raise KeyboardInterrupt
