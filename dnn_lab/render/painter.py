"""Draw a run's curves.png in a helper process that gets matplotlib ready early.

Importing matplotlib takes over a second, and a short run would pay it after its
last epoch, with the user waiting. The helper starts with the run and imports
matplotlib on another core while the run imports its framework; at the end it
draws the curves it is sent. The run still waits for the file before it calls itself
completed. A process that trains again (a notebook, the Python API) keeps its helper
for the next run, which then waits only for the drawing. Where matplotlib is already
loaded (a warm sweep worker) or there is one core only, the curves are drawn
in-process.

Run as ``python -m dnn_lab.render.painter``: one JSON request per line on stdin, one
answer per line on stdout (``ok`` or ``error: ...``); it ends when stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

from dnn_lab.lifetime import killed_with_parent

# A helper that is not done by then has failed; the run draws the curves itself.
DRAW_TIMEOUT_SECONDS = 60.0


class CurvePainter:
    """``begin(rows, path, title)`` hands the curves over, ``finish()`` waits for the file,
    ``close()`` ends a helper that was never asked."""

    def __init__(self, background: bool | None = None):
        if background is None:
            background = "matplotlib.pyplot" not in sys.modules and (os.cpu_count() or 1) > 1
        self._process: subprocess.Popen | None = None
        self._request: tuple[list[dict[str, Any]], Path, str] | None = None
        if background:
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "dnn_lab.render.painter"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    preexec_fn=killed_with_parent,
                )
            except OSError:
                self._process = None

    @property
    def begun(self) -> bool:
        return self._request is not None

    def begin(self, rows: list[dict[str, Any]], path: Path, title: str) -> None:
        """Hand the curves to the helper, which draws them while the run saves its model."""
        self._request = (rows, Path(path), title)
        if self._process is None:
            return
        partial = _partial(Path(path))
        request = json.dumps({"rows": rows, "path": str(partial), "title": title})
        try:
            self._process.stdin.write(request + "\n")
            self._process.stdin.flush()
        except (OSError, ValueError):
            self.close()

    def finish(self) -> None:
        """Wait for the curves: ``path`` is then whole, drawn here if the helper failed.

        The helper stays for another ``begin`` (``alive``) until ``close``.
        """
        if self._request is None:
            return
        rows, path, title = self._request
        self._request = None
        partial = _partial(path)
        drawn = False
        if self._process is not None:
            answer = self._answer(DRAW_TIMEOUT_SECONDS)
            drawn = answer == "ok" and partial.is_file()
            if not drawn:
                self.close()  # dead, stuck or failing: never asked again
        try:
            if not drawn:
                from dnn_lab.render.plots import plot_curves

                plot_curves([(title, rows)], partial, title=title)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    @property
    def alive(self) -> bool:
        """A helper process is up and may draw the next run's curves."""
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                with contextlib.suppress(OSError, ValueError):  # a broken pipe is closed too
                    stream.close()

    def _answer(self, timeout: float) -> str | None:
        """The helper's next answer line; None when it ended or said nothing in time."""
        try:
            ready, _, _ = select.select([self._process.stdout], [], [], timeout)
            return self._process.stdout.readline().strip() if ready else None
        except (OSError, ValueError):
            return None


def _partial(path: Path) -> Path:
    return path.with_name(f".partial.{path.name}")


def _serve() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import tempfile

    import matplotlib.pyplot  # noqa: F401  (the import is the point: it is what takes long)

    from dnn_lab.render.plots import plot_curves

    # While the run still trains, draw a throwaway figure: the fonts, the text layout and
    # the PNG writer are then ready, and the real curves take a fraction of the time.
    warm_up = [{"epoch": 1, "loss": 1.0, "val_loss": 1.0}, {"epoch": 2, "loss": 0.5}]
    with tempfile.TemporaryDirectory(prefix="dnn-lab-painter-") as scratch:
        plot_curves([("warm-up", warm_up)], Path(scratch) / "warm-up.png", title="warm-up")
    for line in sys.stdin:
        try:
            request = json.loads(line)
            plot_curves(
                [(request["title"], request["rows"])], Path(request["path"]), request["title"]
            )
            answer = "ok"
        except Exception as exc:  # the run draws these itself; the next request may be fine
            answer = f"error: {type(exc).__name__}: {exc}".replace("\n", " ")
        print(answer, flush=True)
    return 0


if __name__ == "__main__":
    code = _serve()
    sys.stdout.flush()
    # Every file is written and closed; the interpreter's teardown of matplotlib would
    # add a tenth of a second for nothing.
    os._exit(code)
