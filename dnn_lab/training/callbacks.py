"""Keras callbacks that record a run as it trains and show its progress.

The history is on disk after every epoch, so a run that dies keeps what it
learned; signals and NaN losses stop training after the current batch. Import
only after ``dnn_lab.training.backend.configure``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras

from dnn_lab.store import runs
from dnn_lab.training.signals import StopSignals

if TYPE_CHECKING:
    from dnn_lab.config.head import Head
    from dnn_lab.config.schema import Config
    from dnn_lab.data.prepare import PreparedData
    from dnn_lab.training.pipeline import StepGroups


def current_learning_rate(model: keras.Model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


class HistoryRecorder(keras.callbacks.Callback):
    """Rewrites ``history.csv`` after every epoch: metrics, learning rate, seconds."""

    def __init__(self, run_dir: Path):
        super().__init__()
        self.path = Path(run_dir) / runs.HISTORY_FILE
        self.rows: list[dict[str, Any]] = []
        self._lr = math.nan
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._lr = current_learning_rate(self.model)  # the rate this epoch starts with
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row: dict[str, Any] = {"epoch": epoch + 1}
        for key, value in (logs or {}).items():
            if key != "learning_rate":
                row[key] = float(value)
        row["lr"] = self._lr
        row["seconds"] = round(time.perf_counter() - self._started, 4)
        self.rows.append(row)
        runs.atomic_write_text(self.path, runs.history_to_csv(self.rows), durable=False)

    def on_train_end(self, logs=None):
        if self.rows:
            runs.atomic_write_text(self.path, runs.history_to_csv(self.rows))


class StopOnSignal(keras.callbacks.Callback):
    """Stops training after the current batch once a stop signal has arrived."""

    def __init__(self, signals: StopSignals):
        super().__init__()
        self.signals = signals

    def on_train_batch_end(self, batch, logs=None):
        if self.signals.received is not None:
            self.model.stop_training = True


class NanGuard(keras.callbacks.Callback):
    """Like ``TerminateOnNaN``, but remembers where the loss went bad."""

    def __init__(self, batches_done=lambda call: call + 1):
        super().__init__()
        self.batches_done = batches_done  # Keras counts calls; a call may run many batches
        self.epoch = 0
        self.where: dict[str, Any] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.where = {
                "epoch": self.epoch,
                "batch": self.batches_done(batch),
                "loss": str(float(loss)),
            }
            self.model.stop_training = True


class Progress(keras.callbacks.Callback):
    """A rich bar per epoch on a terminal; one plain line per epoch anywhere else."""

    def __init__(
        self, console, epochs: int, steps: int, live: bool, batches_done=lambda call: call + 1
    ):
        super().__init__()
        self.batches_done = batches_done
        self.console = console
        self.epochs = epochs
        self.steps = steps
        self.live = live
        self._bar = None
        self._task = None
        self._last = 0.0
        self._started = 0.0

    def on_train_begin(self, logs=None):
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[of]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[metrics]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        if self._bar is not None:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task(
                "train", total=self.steps, epoch=epoch + 1, of=self.epochs, metrics=""
            )

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._bar is None or now - self._last < 0.1:
            return
        self._last = now
        logs = logs or {}
        shown = "  ".join(
            f"{k} {float(logs[k]):.4f}"
            for k in runs.history_columns(list(logs))
            if k != "learning_rate"
        )
        self._bar.update(self._task, completed=self.batches_done(batch), metrics=shown)

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._started
        line = format_epoch_line(epoch + 1, self.epochs, logs or {}, seconds)
        if self._bar is not None:
            self._bar.console.print(line, highlight=False)
        else:
            self.console.print(line, highlight=False, soft_wrap=True)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def format_epoch_line(epoch: int, epochs: int, logs: dict[str, Any], seconds: float) -> str:
    parts = [f"epoch {epoch:>{len(str(epochs))}}/{epochs}"]
    keys = [k for k in runs.history_columns(list(logs)) if k != "learning_rate"]
    parts += [f"{k} {float(logs[k]):.4f}" for k in keys]
    parts.append(f"{seconds:.2f}s")
    return " - ".join(parts)


@dataclass(frozen=True, kw_only=True)
class RunCallbacks:
    """A run's callbacks for ``fit``, and the three the run reads back afterwards."""

    ordered: list[keras.callbacks.Callback]  # what fit() is given, in the order they run
    recorder: HistoryRecorder  # the history, epoch by epoch
    nan_guard: NanGuard  # where the loss went bad, if it did
    progress: Progress  # closed when the run ends, however it ends


def for_run(
    *,
    config: Config,
    head: Head,
    data: PreparedData,
    run_dir: Path,
    steps: StepGroups,
    console,
    signals: StopSignals,
) -> RunCallbacks:
    """Every callback a run's config asks for, in the order they must run.

    Args:
        steps: how each epoch's mini-batches are grouped into calls (Keras counts calls).
        console: where progress is shown (a bar on a terminal, a line per epoch elsewhere).
        signals: the run's stop signals; a received one stops fit after its batch.
    """
    recorder = HistoryRecorder(run_dir)
    nan_guard = NanGuard(steps.batches_done)
    progress = Progress(
        console, config.train.epochs, steps.batches, console.is_terminal, steps.batches_done
    )
    extra: list = []
    train_cfg = config.train
    if head.plateau is not None:
        s = train_cfg.schedule
        extra.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=head.plateau.metric,
                mode=head.plateau.mode,
                factor=s.factor,
                patience=s.patience,
                min_lr=s.min_lr,
                verbose=0,
            )
        )
    if head.early_stopping is not None:
        es = train_cfg.early_stopping
        extra.append(
            keras.callbacks.EarlyStopping(
                monitor=head.early_stopping.metric,
                mode=head.early_stopping.mode,
                patience=es.patience,
                min_delta=es.min_delta,
                restore_best_weights=es.restore_best_weights,
                verbose=0,
            )
        )
    if train_cfg.checkpoint:
        extra.append(
            keras.callbacks.ModelCheckpoint(
                str(run_dir / runs.BEST_WEIGHTS_FILE),
                monitor=head.best.metric,
                mode=head.best.mode,
                save_best_only=True,
                save_weights_only=True,
                verbose=0,
            )
        )
    if train_cfg.diagnostics:
        from dnn_lab.training.probe import DiagnosticsRecorder

        extra.append(
            DiagnosticsRecorder(
                run_dir, data.x_train, data.y_train, config.seed, head.loss, config.backend
            )
        )
    if train_cfg.tensorboard:
        extra.append(
            keras.callbacks.TensorBoard(
                log_dir=str(run_dir / runs.TENSORBOARD_DIR), histogram_freq=1, write_graph=True
            )
        )
    # The recorder runs last so it sees the learning rate the schedulers just set.
    ordered = [StopOnSignal(signals), nan_guard, *extra, progress, recorder]
    return RunCallbacks(ordered=ordered, recorder=recorder, nan_guard=nan_guard, progress=progress)
