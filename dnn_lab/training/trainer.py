"""One training run: data, model, fit, evaluate, and the run directory that records it.

Everything a user can get wrong (config, data, Keras names) is checked before
the run directory exists, so a bad input never leaves a run behind. Once it
exists, every way out (success, Ctrl-C, SIGTERM, NaN loss, a crash) writes a
final ``run.json`` that says which, with the history up to that point.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dnn_lab.config.head import Head, resolve_head, resolved
from dnn_lab.config.schema import Config
from dnn_lab.data.memory import check_model_fits
from dnn_lab.data.prepare import PreparedData, pinned, prepare_data
from dnn_lab.errors import (
    EXIT_BUG,
    EXIT_DIVERGED,
    EXIT_OK,
    Interrupted,
    exit_code_for,
)
from dnn_lab.render.painter import CurvePainter
from dnn_lab.store import index, runs
from dnn_lab.store.records import RunRecord
from dnn_lab.store.status import Status
from dnn_lab.training.execution import Execution, choose_execution
from dnn_lab.training.provenance import GitLookup, optimizer_record
from dnn_lab.training.signals import StopSignals
from dnn_lab.training.timing import Stopwatch
from dnn_lab.training.warm_model import WarmModel, program_key


@dataclass(kw_only=True)
class TrainResult:
    run_dir: Path
    status: Status
    exit_code: int
    metrics: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    error: BaseException | None = None


def train(
    config: Config,
    runs_dir: Path,
    console=None,
    command: list[str] | None = None,
    config_path: Path | None = None,
    clock: Stopwatch | None = None,
    painter: CurvePainter | None = None,
    warm: WarmModel | None = None,
) -> TrainResult:
    """Train ``config`` and write its run directory under ``runs_dir``.

    ``clock`` starts at the process's start by default; a warm worker passes one that
    starts when the trial was handed to it. SIGINT and SIGTERM are handled from the
    first line to the last (``dnn_lab.training.signals``). ``warm`` (a sweep worker's)
    offers the last trial's compiled model to a run of the same program.

    Raises:
        Interrupted: a signal arrived before the run directory was created.
        DnnLabError: the config or the data cannot be used; no run directory exists.
    """
    from rich.console import Console

    clock = clock or Stopwatch()
    console = console or Console()
    with StopSignals() as signals:
        training = None
        try:
            with clock.phase("data"):
                data = prepare_data(config.data, config.seed)
            head = resolve_head(config, data.task, data.n_classes)
            config = pinned(resolved(config, head), data)  # data.path absolute, size, hash
            check_model_fits(config, data.input_shape, data.task, data.n_classes)

            from dnn_lab.training import backend

            # matplotlib gets ready on another core meanwhile; a caller's painter is its own
            owned = painter is None
            painter = painter or CurvePainter()
            with (
                tempfile.TemporaryDirectory(prefix="dnn-lab-") as scratch,
                contextlib.closing(painter) if owned else contextlib.nullcontext(),
            ):
                native_log = Path(scratch) / runs.NATIVE_LOG_FILE
                with backend.native_stderr_to(native_log):
                    training = Training(
                        config=config,
                        data=data,
                        head=head,
                        console=console,
                        clock=clock,
                        command=command,
                        config_path=config_path,
                        painter=painter,
                        signals=signals,
                        warm=warm,
                    )
                    result = training.run(runs_dir)
                if native_log.exists() and native_log.stat().st_size and result.run_dir.is_dir():
                    shutil.copyfile(native_log, result.run_dir / runs.NATIVE_LOG_FILE)
        except BaseException as exc:
            if training is not None and training.run_dir is not None:
                raise  # not expected: once the directory exists the run records every signal
            if isinstance(exc, KeyboardInterrupt) or signals.received is not None:
                # A stop signal came first; what broke after it (an import it cut short,
                # say) is its consequence, and the run ends as the user asked.
                raise Interrupted(signals.received or signal.SIGINT) from None
            raise
    return result


class Training:
    """One run's state from start to finish; ``run`` reads like a plain training script."""

    def __init__(
        self,
        *,
        config,
        data,
        head,
        console,
        clock,
        command,
        config_path,
        painter,
        signals,
        warm=None,
    ):
        self.config: Config = config
        self.data: PreparedData = data
        self.head: Head = head
        self.console = console
        self.clock: Stopwatch = clock
        self.command = command
        self.config_path = config_path
        self.painter: CurvePainter = painter
        self.signals: StopSignals = signals
        self.record = RunRecord()
        self.run_dir: Path | None = None
        self.warm: WarmModel | None = warm
        self.program_key: str | None = None
        self.reused_from: str | None = None

    def run(self, runs_dir: Path) -> TrainResult:
        from dnn_lab.training import backend

        config = self.config
        git = GitLookup(self.config_path)  # answered while the framework loads
        with self.clock.phase("framework"):
            device = backend.configure(config.backend, config.device)
            if config.train.diagnostics:
                from dnn_lab.training.probe import check_backend

                check_backend(config.backend)
            from dnn_lab.training import pipeline

            flops = pipeline.step_flops(
                pipeline.dense_params(config, self.data), config.train.batch_size
            )
            execution = choose_execution(
                backend=config.backend,
                device=device,
                train=config.train,
                samples=len(self.data.x_train),
                step_flops=flops,
                distributed=config.devices == "all",
            )
            steps = pipeline.StepGroups(
                len(self.data.x_train),
                config.train.batch_size,
                execution.steps_per_execution if execution.steps_in_graph else 1,
            )
            threads = pipeline.configure_threads(config.backend, flops, execution.steps_in_graph)
            backend.seed_everything(config.seed, config.backend, execution.op_determinism)
            backend.set_precision(config.train.precision)
        with (
            self.clock.phase("build"),
            backend.distribution(config.backend, config.devices, device) as distributed,
        ):
            net, transfer = self._compiled_model(execution, steps)
        execution = dataclasses.replace(
            execution,
            threads=threads,
            distribution=distributed,
            reused_compiled_step=self.reused_from,
        )

        self.record = RunRecord(
            status=Status.RUNNING,
            name=config.name,
            started=datetime.now().astimezone().isoformat(timespec="seconds"),
            command=list(self.command or sys.argv),
            cwd=os.getcwd(),
            config_path=str(self.config_path) if self.config_path else None,
            seed=config.seed,
            backend=config.backend,
            device=device,
            versions=backend.versions(config.backend),
            git=git.result(),
            data=self.data.summary(),
            optimizer=optimizer_record(net.optimizer),
            execution=execution.to_json(),
            config=config.to_dict(),
            init_from=transfer or None,
            **runs.host_identity(),
        )
        # From here on a first signal only asks training to stop: the run directory about
        # to exist always ends with a run.json that says how the run ended.
        self.signals.defer()
        self.signals.raise_if_received()  # one whose KeyboardInterrupt library code swallowed
        self.run_dir = runs.create_run_dir(runs_dir, config.name)
        return self._fit_and_record(net, steps)

    def _compiled_model(self, execution: Execution, steps):
        from dnn_lab.training.model import build_model
        from dnn_lab.training.optimizer import build_optimizer

        config, data = self.config, self.data
        net = build_model(config, data.input_shape, self.head)
        transfer = None
        if config.model.init_from is not None:
            from dnn_lab.training.transfer import apply_init_from

            transfer = apply_init_from(net, config.model.init_from)
        optimizer = build_optimizer(config.train, steps.batches)  # schedules count in epochs
        if self.warm is not None:
            self.program_key = program_key(config, data, execution, steps)
            taken = self.warm.take(self.program_key, net, optimizer)
            if taken is not None:
                net, self.reused_from = taken
                return net, transfer
        net.compile(
            optimizer=optimizer,
            loss=self.head.loss,
            metrics=list(self.head.metrics),
            steps_per_execution=execution.keras_steps_per_execution,
            jit_compile=execution.jit_compile,
        )
        from dnn_lab.training import pipeline

        pipeline.build_training_state(net, data.x_train[:2], data.y_train[:2])
        if execution.steps_in_graph:
            pipeline.run_steps_in_graph(net, config.backend)
        return net, transfer

    def _fit_and_record(self, net, steps) -> TrainResult:
        """Train into the new run directory; however it ends, record how, ``run.json`` last."""
        ending, hooks, metrics = _Ending(status=Status.COMPLETED, exit_code=EXIT_OK), None, {}
        try:
            self._write_opening_files(net)
            if self.signals.received is None:  # else stopped while starting: no epoch is begun
                hooks = self._callbacks(steps)
                self._fit(net, steps, hooks)
            if hooks is not None and hooks.nan_guard.where is not None:
                ending = self._diverged(hooks.nan_guard.where)
            elif self.signals.received is None:
                self.clock.split_first_epoch([r["seconds"] for r in hooks.recorder.rows])
                metrics = self._finish(net, hooks.recorder)
        except KeyboardInterrupt:
            ending = _interrupted(self.signals.received or signal.SIGINT, self.record)
        except BaseException as exc:  # recorded as failed, then re-raised for the CLI
            ending = self._failed(exc)
        finally:
            if hooks is not None:
                hooks.progress.close()
        self.signals.hold()  # the last files are written whatever arrives now
        rows = hooks.recorder.rows if hooks is not None else []
        metrics = self._write_metrics(metrics, rows, ending)
        if ending.status == Status.COMPLETED and self.signals.received is not None:
            # stopped while starting, training, evaluating or writing: never "completed"
            ending = _interrupted(self.signals.received, self.record)
        self._write_last_record(ending)
        if self.warm is not None and ending.status == Status.COMPLETED:
            # named after the run that compiled it, however many seeds have used it since
            self.warm.keep(self.program_key, net, self.reused_from or self.run_dir.name)
        return TrainResult(
            run_dir=self.run_dir,
            status=ending.status,
            exit_code=ending.exit_code,
            metrics=metrics,
            message=ending.message,
            error=ending.error,
        )

    def _write_opening_files(self, net) -> None:
        """run.json first (it says ``running``), the config, the model's summary; the header."""
        from dnn_lab.render.terminal import print_run_header
        from dnn_lab.training.model import parameter_table, summary_text

        run_dir, record = self.run_dir, self.record
        runs.write_json(run_dir / runs.RUN_FILE, record.to_json())  # first: "running"
        runs.atomic_write_text(run_dir / runs.CONFIG_FILE, self.config.to_yaml())
        with self.clock.phase("writing"):
            table = parameter_table(net)
            runs.atomic_write_text(run_dir / runs.SUMMARY_FILE, summary_text(net))
            runs.write_json(run_dir / runs.PARAMS_FILE, table)
            record.params = table["totals"]
            runs.write_json(run_dir / runs.RUN_FILE, record.to_json())
        print_run_header(self.console, run_dir, record.data, table["totals"], record.device)

    def _callbacks(self, steps):
        from dnn_lab.training.callbacks import for_run

        return for_run(
            config=self.config,
            head=self.head,
            data=self.data,
            run_dir=self.run_dir,
            steps=steps,
            console=self.console,
            signals=self.signals,
        )

    def _fit(self, net, steps, hooks) -> None:
        """``fit``, fed in the step groups chosen; the curves begin drawing once it ends."""
        from dnn_lab.training import evaluation, pipeline

        config, data = self.config, self.data
        x, y, feed = pipeline.training_inputs(
            config.backend, data.x_train, data.y_train, steps, config.seed
        )
        validation = pipeline.validation_inputs(
            config.backend, data.x_val, data.y_val, evaluation.EVAL_BATCH_SIZE
        )
        net.fit(
            x,
            y,
            epochs=config.train.epochs,
            callbacks=hooks.ordered,
            verbose=0,
            **feed,
            **validation,
        )
        rows = hooks.recorder.rows
        if rows:  # drawn on the other core while the model is saved
            self.painter.begin(list(rows), self.run_dir / runs.CURVES_FILE, config.name)

    def _diverged(self, where: dict[str, Any]) -> _Ending:
        self.record.diverged = where
        return _Ending(
            status=Status.DIVERGED,
            exit_code=EXIT_DIVERGED,
            message=(
                f"loss became {where['loss']} at epoch {where['epoch']}, "
                f"batch {where['batch']}. Is the learning rate too high? "
                "Try a smaller train.optimizer.learning_rate or clipping (clipnorm: 1.0)."
            ),
        )

    def _failed(self, exc: BaseException) -> _Ending:
        self.record.error = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
        return _Ending(
            status=Status.FAILED,
            exit_code=EXIT_BUG,
            message=f"{type(exc).__name__}: {exc}",
            error=exc,
        )

    def _write_metrics(
        self, metrics: dict[str, Any], rows: list, ending: _Ending
    ) -> dict[str, Any]:
        """metrics.json (the history's summary when the run did not finish) and the curves."""
        from dnn_lab.training import evaluation

        if not metrics:
            metrics = evaluation.summarize_history(rows, self.head)
        try:
            with self.clock.phase("writing"):
                if rows and ending.status != Status.FAILED:
                    self._save_curves(rows)
            timing = self.clock.to_json()
            metrics["wall_seconds"] = timing["total"]  # the whole run, data loading included
            metrics["timing"] = timing
            runs.write_json(self.run_dir / runs.METRICS_FILE, metrics)
        except OSError as exc:  # a full disk must not hide the status written next
            self.record.warn(f"could not write results: {exc}")
        return metrics

    def _write_last_record(self, ending: _Ending) -> None:
        """run.json says how the run ended: last, so a run reads as done once all is on disk."""
        record = self.record
        record.status = ending.status
        record.ended = datetime.now().astimezone().isoformat(timespec="seconds")
        record.message = ending.message or None
        # last: a run reads as done only once everything else is on disk
        runs.write_json(self.run_dir / runs.RUN_FILE, record.to_json())
        index.add_run(self.run_dir)  # the folder's index, where it has one; never raises

    def _save_curves(self, rows) -> None:
        try:
            if not self.painter.begun:
                self.painter.begin(rows, self.run_dir / runs.CURVES_FILE, self.config.name)
            self.painter.finish()
        except Exception as exc:  # a plot is never worth losing a run over
            self.record.warn(f"could not draw curves.png: {exc}")

    def _finish(self, net, recorder) -> dict[str, Any]:
        """Test set, MC dropout and the saved model, for a run that trained to the end."""
        from dnn_lab.training import evaluation

        config, data, head = self.config, self.data, self.head
        metrics = evaluation.summarize_history(recorder.rows, head)
        early = config.train.early_stopping
        if early is not None:
            stopped = len(recorder.rows) < config.train.epochs
            metrics["early_stopped"] = stopped
            metrics["kept_epoch"] = (
                metrics.get("best_epoch") if early.restore_best_weights else len(recorder.rows)
            )
        with self.clock.phase("evaluation"):
            if data.x_test is not None:
                metrics["test"] = evaluation.evaluate(net, data.x_test, data.y_test)
            if config.train.mc_dropout is not None:
                x_eval, y_eval, split = (
                    (data.x_test, data.y_test, "test")
                    if data.x_test is not None
                    else (data.x_val, data.y_val, "validation")
                )
                if x_eval is not None:
                    mc = evaluation.mc_dropout(
                        net, x_eval, y_eval, config.train.mc_dropout.samples, data.task
                    )
                    mc["split"] = split
                    mc["plain"] = evaluation.evaluate(net, x_eval, y_eval)
                    metrics["mc_dropout"] = mc
        with self.clock.phase("writing"):
            _save_model(net, self.run_dir)
        return metrics


def _save_model(net, run_dir: Path) -> None:
    final = run_dir / runs.MODEL_FILE
    partial = run_dir / ".partial.model.keras"
    try:
        net.save(partial)
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)  # half a model must not look like one
        raise


@dataclass(frozen=True, kw_only=True)
class _Ending:
    """How a run ended: what run.json, the result and the process's exit code say."""

    status: Status
    exit_code: int
    message: str = ""
    error: BaseException | None = None  # a bug, re-raised for the CLI


def _interrupted(signum: int, record: RunRecord) -> _Ending:
    name = signal.Signals(signum).name
    record.interrupted_by = name
    return _Ending(
        status=Status.INTERRUPTED,
        exit_code=exit_code_for(signum),
        message=f"stopped by {name}; the history so far is kept",
    )
