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
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dnn_lab.config.head import Head, resolve_head, resolved
from dnn_lab.config.schema import Config
from dnn_lab.data.memory import check_model_fits, dense_parameters
from dnn_lab.data.prepare import PreparedData, pinned, prepare_data
from dnn_lab.errors import (
    EXIT_BUG,
    EXIT_DIVERGED,
    EXIT_OK,
    Interrupted,
    exit_code_for,
)
from dnn_lab.render.painter import CurvePainter
from dnn_lab.store import runs
from dnn_lab.store.records import RunRecord
from dnn_lab.training.execution import ExecutionPlan, plan_execution
from dnn_lab.training.signals import StopSignals
from dnn_lab.training.timing import Stopwatch
from dnn_lab.training.warm_model import WarmModel, program_key


@dataclass(kw_only=True)
class TrainResult:
    run_dir: Path
    status: str
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

            painter = painter or CurvePainter()  # matplotlib gets ready on another core meanwhile
            with (
                tempfile.TemporaryDirectory(prefix="dnn-lab-") as scratch,
                contextlib.closing(painter),
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
        with self.clock.phase("framework"):
            device = backend.configure(config.backend, config.device)
            if config.train.diagnostics:
                from dnn_lab.training.probe import check_backend

                check_backend(config.backend)
            from dnn_lab.training import pipeline

            flops = pipeline.step_flops(_dense_params(config, self.data), config.train.batch_size)
            plan = plan_execution(
                backend=config.backend,
                device=device,
                train=config.train,
                samples=len(self.data.x_train),
                step_flops=flops,
                distributed=config.devices == "all",
            )
            steps = pipeline.StepPlan(
                len(self.data.x_train),
                config.train.batch_size,
                plan.steps_per_execution if plan.steps_in_graph else 1,
            )
            threads = pipeline.configure_threads(config.backend, flops, plan.steps_in_graph)
            backend.seed_everything(config.seed, config.backend, plan.op_determinism)
            backend.set_precision(config.train.precision)
        with (
            self.clock.phase("build"),
            backend.distribution(config.backend, config.devices, device) as distributed,
        ):
            net, transfer = self._compiled_model(plan, steps)
        plan = dataclasses.replace(
            plan,
            threads=threads,
            distribution=distributed,
            reused_compiled_step=self.reused_from,
        )

        self.record = RunRecord(
            status=runs.RUNNING,
            name=config.name,
            started=datetime.now().astimezone().isoformat(timespec="seconds"),
            command=list(self.command or sys.argv),
            cwd=os.getcwd(),
            config_path=str(self.config_path) if self.config_path else None,
            seed=config.seed,
            backend=config.backend,
            device=device,
            versions=backend.versions(config.backend),
            git=_git_state(self.config_path),
            data=self.data.summary(),
            optimizer=_optimizer_record(net.optimizer),
            execution=plan.to_json(),
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

    def _compiled_model(self, plan: ExecutionPlan, steps):
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
            self.program_key = program_key(config, data, plan, steps)
            taken = self.warm.take(self.program_key, net, optimizer)
            if taken is not None:
                net, self.reused_from = taken
                return net, transfer
        net.compile(
            optimizer=optimizer,
            loss=self.head.loss,
            metrics=list(self.head.metrics),
            steps_per_execution=plan.keras_steps_per_execution,
            jit_compile=plan.jit_compile,
        )
        from dnn_lab.training import pipeline

        pipeline.build_training_state(net, data.x_train[:2], data.y_train[:2])
        if plan.steps_in_graph:
            pipeline.run_steps_in_graph(net, config.backend)
        return net, transfer

    def _fit_and_record(self, net, steps) -> TrainResult:
        from dnn_lab.render.terminal import print_run_header
        from dnn_lab.training import evaluation
        from dnn_lab.training.model import parameter_table, summary_text

        config, data, head, record, run_dir, signals = (
            self.config,
            self.data,
            self.head,
            self.record,
            self.run_dir,
            self.signals,
        )
        clock = time.perf_counter()
        status, exit_code, message, error = runs.COMPLETED, EXIT_OK, "", None
        recorder = progress = nan_guard = None
        metrics: dict[str, Any] = {}
        try:
            runs.write_json(run_dir / runs.RUN_FILE, record.to_json())  # first: "running"
            runs.atomic_write_text(run_dir / runs.CONFIG_FILE, config.to_yaml())
            with self.clock.phase("writing"):
                table = parameter_table(net)
                runs.atomic_write_text(run_dir / runs.SUMMARY_FILE, summary_text(net))
                runs.write_json(run_dir / runs.PARAMS_FILE, table)
                record.params = table["totals"]
                runs.write_json(run_dir / runs.RUN_FILE, record.to_json())
            print_run_header(self.console, run_dir, record.data, table["totals"], record.device)
            if signals.received is None:  # else stopped while starting: no epoch is begun
                from dnn_lab.training.callbacks import for_run

                callbacks, recorder, nan_guard, progress = for_run(
                    config, head, data, run_dir, steps, self.console, signals
                )
                from dnn_lab.training import pipeline

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
                    callbacks=callbacks,
                    verbose=0,
                    **feed,
                    **validation,
                )
                if recorder.rows:  # drawn on the other core while the model is saved
                    self.painter.begin(list(recorder.rows), run_dir / runs.CURVES_FILE, config.name)
            if nan_guard is not None and nan_guard.where is not None:
                status, exit_code = runs.DIVERGED, EXIT_DIVERGED
                record.diverged = nan_guard.where
                where = nan_guard.where
                message = (
                    f"loss became {where['loss']} at epoch {where['epoch']}, "
                    f"batch {where['batch']}. Is the learning rate too high? "
                    "Try a smaller train.optimizer.learning_rate or clipping (clipnorm: 1.0)."
                )
            elif signals.received is None:
                self.clock.split_first_epoch([r["seconds"] for r in recorder.rows])
                metrics = self._finish(net, recorder)
        except KeyboardInterrupt:
            status, exit_code, message = _interrupted(signals.received or signal.SIGINT, record)
        except BaseException as exc:  # recorded as failed, then re-raised for the CLI
            status, exit_code, error = runs.FAILED, EXIT_BUG, exc
            message = f"{type(exc).__name__}: {exc}"
            record.error = {
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": traceback.format_exc(),
            }
        finally:
            if progress is not None:
                progress.close()
        signals.hold()  # the last files are written whatever arrives now
        rows = recorder.rows if recorder is not None else []
        if not metrics:
            metrics = evaluation.summarize_history(rows, head)
        metrics["wall_seconds"] = round(time.perf_counter() - clock, 3)
        try:
            with self.clock.phase("writing"):
                if rows and status != runs.FAILED:
                    self._save_curves(rows)
            metrics["timing"] = self.clock.to_json()
            runs.write_json(run_dir / runs.METRICS_FILE, metrics)
        except OSError as exc:  # a full disk must not hide the status below
            record.warn(f"could not write results: {exc}")
        if status == runs.COMPLETED and signals.received is not None:
            # stopped while starting, training, evaluating or writing: never "completed"
            status, exit_code, message = _interrupted(signals.received, record)
        record.status = status
        record.ended = datetime.now().astimezone().isoformat(timespec="seconds")
        record.message = message or None
        # last: a run reads as done only once everything else is on disk
        runs.write_json(run_dir / runs.RUN_FILE, record.to_json())
        if self.warm is not None and status == runs.COMPLETED:
            # named after the run that compiled it, however many seeds have used it since
            self.warm.keep(self.program_key, net, self.reused_from or run_dir.name)
        return TrainResult(
            run_dir=run_dir,
            status=status,
            exit_code=exit_code,
            metrics=metrics,
            message=message,
            error=error,
        )

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


def _dense_params(config: Config, data: PreparedData) -> int:
    """Parameters of the Dense layers, known before the model exists (threads are set first)."""
    units = [layer.units for layer in config.model.hidden_specs()]
    return dense_parameters(data.input_shape, units, data.task, data.n_classes)


def _save_model(net, run_dir: Path) -> None:
    final = run_dir / runs.MODEL_FILE
    partial = run_dir / ".partial.model.keras"
    try:
        net.save(partial)
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)  # half a model must not look like one
        raise


def _optimizer_record(optimizer) -> dict[str, Any]:
    """What the optimizer really is, clipping and schedule included, as Keras describes it."""
    from dnn_lab.training.optimizer import clipping

    settings = optimizer.get_config()
    return {"class": type(optimizer).__name__, "clipping": clipping(optimizer), "config": settings}


def _interrupted(signum: int, record: RunRecord) -> tuple[str, int, str]:
    name = signal.Signals(signum).name
    record.interrupted_by = name
    code = exit_code_for(signum)
    return runs.INTERRUPTED, code, f"stopped by {name}; the history so far is kept"


def _git_state(config_path: Path | None) -> dict[str, Any] | None:
    """The commit of the repository holding the config, so the run can be traced to it."""
    if config_path is None:
        return None
    folder = Path(config_path).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(folder),
                "status",
                "--porcelain",
                "--",
                str(Path(config_path).resolve()),
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "config_modified": bool(dirty)}
