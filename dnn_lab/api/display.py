"""Where a run's progress goes when it trains from Python: a notebook cell or a terminal.

In a Jupyter kernel rich would send each printed line as an HTML block of its own
(hundreds for a long run). Here the header and the result table are the cell's plain
text, and the epoch lines replace one another in a single output that updates in
place. In a terminal the console is rich's usual one (a live bar per epoch); anywhere
else, one line per epoch.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Iterator

_EPOCH_LINE = re.compile(r"^epoch\s+\d+/\d+ - ")


def in_kernel() -> bool:
    """Whether this is a Jupyter kernel (IPython in a terminal is not)."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def console_for_here():
    """The console a run prints to: in place in a kernel, rich's own elsewhere."""
    from rich.console import Console

    if in_kernel():
        return Console(
            file=InPlaceLines(),
            force_terminal=False,
            force_jupyter=False,
            color_system=None,
            highlight=False,
            width=120,
        )
    return Console(highlight=False)


class InPlaceLines(io.TextIOBase):
    """A text file for rich in a kernel: an epoch line updates one display in place; any
    other line goes to the cell's output as it is."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = ""
        self._handle = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._line(line)
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def _line(self, line: str) -> None:
        if not _EPOCH_LINE.match(line):
            sys.stdout.write(line + "\n")
            return
        from IPython.display import display

        bundle = {"text/plain": line}
        if self._handle is None:
            sys.stdout.flush()  # what came before stays above the progress line
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)


@contextlib.contextmanager
def consoles_not_in_jupyter() -> Iterator[None]:
    """Consoles made meanwhile (Keras's model summary makes one) write text, not HTML.

    In a kernel every new rich console sends its output to the notebook as HTML, even
    one that only captures text: Keras's summary would leave an empty block in the cell
    for each run. rich decides in ``_is_jupyter()``; while a run trains it says no.
    """
    import rich.console

    decide = getattr(rich.console, "_is_jupyter", None)
    if decide is None or not in_kernel():
        yield
        return
    rich.console._is_jupyter = lambda: False
    try:
        yield
    finally:
        rich.console._is_jupyter = decide
