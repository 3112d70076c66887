"""Training again in the same process (a notebook, a script, the Python API).

The first run of a process imports the framework; every later run reuses it, and a
run of the same program as the last one (another seed, say) reuses its compiled step
too (``warm_model``). Between runs Keras's global state is put back to what a new
process has, so a config and seed give the history ``dnn-lab train`` gives, digit for
digit (``tests/api/test_train.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dnn_lab.config.schema import Config
from dnn_lab.render.painter import CurvePainter
from dnn_lab.store import runs
from dnn_lab.training.timing import Stopwatch
from dnn_lab.training.trainer import TrainResult, train
from dnn_lab.training.warm_model import WarmModel, fresh_keras_state

# This process's last compiled model, for the next run of the same program.
WARM_MODEL = WarmModel()
_trained = {"runs": 0}
_painter: dict[str, CurvePainter | None] = {"painter": None}  # kept across runs


def train_here(
    config: Config,
    runs_dir: Path,
    *,
    console,
    command: list[str] | None = None,
    config_path: Path | None = None,
    again: bool = True,
) -> TrainResult:
    """Train ``config`` in this process, as the n-th run of it (see the module's docstring).

    The first run's clock starts with the process (its start-up is part of its time);
    a later run's starts now. ``again``: this process may train once more (the CLI's
    will not), so the helper that draws the curves is kept for the next run.
    """
    later = _trained["runs"] > 0
    clock = Stopwatch(origin=time.perf_counter()) if later else Stopwatch()
    fresh_keras_state()
    painter = _painter["painter"]
    if again and (painter is None or not painter.alive):
        # one helper for this process's runs: matplotlib is imported once, on another core
        painter = _painter["painter"] = CurvePainter()
    with _native_log_out_of_the_kernel() as native_log:
        result = train(
            config,
            runs_dir,
            console=console,
            command=command,
            config_path=config_path,
            clock=clock,
            painter=painter,
            warm=WARM_MODEL,
        )
        if native_log is not None and native_log.stat().st_size and result.run_dir.is_dir():
            with (
                open(result.run_dir / runs.NATIVE_LOG_FILE, "ab") as out,
                open(native_log, "rb") as log,
            ):
                shutil.copyfileobj(log, out)
    _trained["runs"] += 1
    return result


def close_painter() -> None:
    """End the helper kept for the next run's curves (at exit, or in a test)."""
    painter, _painter["painter"] = _painter["painter"], None
    if painter is not None:
        painter.close()


atexit.register(close_painter)


@contextlib.contextmanager
def _native_log_out_of_the_kernel() -> Iterator[Path | None]:
    """In a Jupyter kernel, native code's output (file descriptor 2) goes to a file.

    A kernel forwards descriptor 2 to the cell, but Python's ``sys.stderr`` there is
    not descriptor 2, so the trainer's own diversion (``backend.native_stderr_to``)
    stands aside; TensorFlow's C++ log would land in the cell. Anywhere else this does
    nothing.
    """
    if not _in_kernel_without_fd2():
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="dnn-lab-") as scratch:
        path = Path(scratch) / runs.NATIVE_LOG_FILE
        saved = os.dup(2)
        log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 2)
        os.close(log)
        try:
            yield path
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _in_kernel_without_fd2() -> bool:
    if "ipykernel" not in sys.modules:
        return False
    try:
        return sys.stderr.fileno() != 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return True


def load_saved_model(run_dir: Path, backend: str | None):
    """The Keras model a run saved, on the backend it trained on (this process's, once one
    is loaded); safe mode refuses code hidden in a model file.

    Raises:
        RunDirError: the run saved no model (it did not complete) or the file is unreadable.
    """
    from dnn_lab.errors import RunDirError
    from dnn_lab.training import backend as backends

    path = Path(run_dir) / runs.MODEL_FILE
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no {runs.MODEL_FILE}: only a completed run saves one")
    loaded = sys.modules.get("keras")
    backends.configure(loaded.config.backend() if loaded else backend or "tensorflow", "auto")
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        raise RunDirError(f"cannot load {path}: {exc}") from None
