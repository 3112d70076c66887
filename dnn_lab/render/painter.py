"""Draw a run's curves.png in a helper process that gets matplotlib ready early.

Importing matplotlib takes over a second, and a short run would pay it after its
last epoch, with the user waiting. The helper starts with the run and imports
matplotlib on another core while the run imports its framework; at the end it
draws the curves it is sent and exits. The run still waits for the file before it
calls itself completed. Where matplotlib is already loaded (a warm sweep worker) or
there is one core only, the curves are drawn in-process as before.

Run as ``python -m dnn_lab.render.painter``: one JSON request on stdin, ``ok`` or an
error on stdout.
"""

from __future__ import annotations

import json
import os
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
            self._process.stdin.flush()  # the helper reads one line; communicate() closes it
        except (OSError, ValueError):
            self.close()

    def finish(self) -> None:
        """Wait for the curves: ``path`` is then whole, drawn here if the helper failed."""
        if self._request is None:
            return
        rows, path, title = self._request
        self._request = None
        partial = _partial(path)
        process, self._process = self._process, None
        drawn = False
        if process is not None:
            try:
                answer, _ = process.communicate(timeout=DRAW_TIMEOUT_SECONDS)
                drawn = process.returncode == 0 and answer.strip() == "ok" and partial.is_file()
            except (OSError, subprocess.SubprocessError, ValueError):
                process.kill()
                process.wait()
        try:
            if not drawn:
                from dnn_lab.render.plots import plot_curves

                plot_curves([(title, rows)], partial, title=title)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()


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
    line = sys.stdin.readline()
    if not line:
        return 0
    request = json.loads(line)
    plot_curves([(request["title"], request["rows"])], Path(request["path"]), request["title"])
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    code = _serve()
    sys.stdout.flush()
    # The file is written and closed; the run waits for this process to end, and the
    # interpreter's teardown of matplotlib would add a tenth of a second to every run.
    os._exit(code)
