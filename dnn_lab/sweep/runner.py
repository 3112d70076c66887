"""Running a sweep: each trial a normal run, ``workers`` at a time.

A sweep folder ``runs/<date>-<name>-sweep/`` holds ``base.yaml`` (the config every
trial starts from), ``sweep.json`` (axes, search state and every trial's status,
rewritten atomically as trials move) and one run directory per trial. A trial runs
as ``dnn-lab train base.yaml --set ...`` would, in a warm worker process that has
Keras loaded already (:mod:`dnn_lab.sweep.workers`); a crash costs only its own
trial and its worker.

``SweepRunner`` decides when trials start and end; the search decides which
(:mod:`dnn_lab.sweep.search`); the executor's pool knows how a trial is started,
watched and stopped: warm worker processes here (the default), or tasks on a Ray
cluster (:mod:`dnn_lab.sweep.ray_executor`, imported only when chosen).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dnn_lab.config.schema import Config, SweepConfig
from dnn_lab.errors import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    DnnLabError,
)
from dnn_lab.store import files, runs
from dnn_lab.sweep.driver import DriverLock
from dnn_lab.sweep.executor import LOCAL, ExecutorOptions, TrialHandle, TrialPool
from dnn_lab.sweep.plan import create_sweep, sweep_config_of
from dnn_lab.sweep.search import FixedPlan, Search
from dnn_lab.sweep.state import (
    FINISHED,
    PENDING,
    PRUNED,
    Preference,
    SweepState,
    Trial,
    trial_value,
)
from dnn_lab.sweep.workers import WorkerPool, auto_workers, threads_for

POLL_SECONDS = 0.2  # how often the runner looks at its trials


def default_workers() -> int:
    """One worker per GPU when there are GPUs, else one; found without importing TensorFlow."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return max(1, len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"]))
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
            count = sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))
            return max(1, count)
        except (OSError, subprocess.SubprocessError):
            pass
    return 1


def _has_gpus() -> bool:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1") or bool(
        shutil.which("nvidia-smi")
    )


# --------------------------------------------------------------------------- the runner


class SweepRunner:
    """Runs a sweep's trials, ``workers`` at a time, until done or interrupted."""

    def __init__(
        self,
        state: SweepState,
        workers: int,
        on_change: Callable[[], None] = lambda: None,
        search: Search | None = None,
        pool: TrialPool | None = None,
    ):
        self.state = state
        self.workers = max(1, workers)
        self.on_change = on_change
        self.search: Search = search if search is not None else FixedPlan()
        self.running: list[TrialHandle] = []
        self.last_setting: dict[int, str] = {}  # slot -> setting of the trial it ran last
        self.stop_signal: int | None = None
        # default: warm worker processes on this machine, one thread each per core share
        self.pool: TrialPool = pool or WorkerPool(state, threads_for(self.workers))

    def run(self) -> int:
        """Run until every trial has ended or a signal stops the sweep; the exit code."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for trial in self.state.trials:
                if trial.status not in FINISHED:
                    trial.status, trial.message = PENDING, None
            self.state.status = runs.RUNNING
            self.state.save()
            while True:
                self._reap()
                if self.stop_signal is None:
                    self._launch()
                if not self.running and (
                    self.stop_signal is not None or not self.search.wants_more(self.state)
                ):
                    break
                self._watch()
                time.sleep(POLL_SECONDS)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.pool.close(kill=self.stop_signal is not None and bool(self.running))
        if self.stop_signal is not None:
            for trial in self.state.trials:
                if trial.status in (PENDING, runs.RUNNING):
                    trial.status = runs.INTERRUPTED
            self.state.status = runs.INTERRUPTED
            self.state.save()
            self.on_change()
            return EXIT_TERMINATED if self.stop_signal == signal.SIGTERM else EXIT_INTERRUPTED
        self.state.status = runs.COMPLETED
        self.state.save()
        self.on_change()
        return EXIT_OK

    # ----------------------------------------------------------------- internals

    def _launch(self) -> None:
        while len(self.running) < self.workers:
            used = {r.slot for r in self.running}
            slot = next(i for i in range(self.workers) if i not in used)
            trial = self.search.ask(self.state, prefer=self._warm_first(slot))
            if trial is None:
                return
            self.last_setting[slot] = trial.setting()
            self.running.append(self.pool.start(trial, slot))
            trial.status, trial.run_dir, trial.value, trial.message = runs.RUNNING, None, None, None
            self.state.save()
            self.on_change()

    def _warm_first(self, slot: int) -> Preference:
        """Rank pending trials for ``slot``: its worker's last setting first (its compiled
        model is reused, see ``dnn_lab.training.warm_model``), then a setting no other
        worker has, then the rest; each setting's seeds then stay on one worker."""
        mine = self.last_setting.get(slot)
        others = {s for other, s in self.last_setting.items() if other != slot}

        def rank(trial: Trial) -> int:
            setting = trial.setting()
            if setting == mine:
                return 0
            return 1 if setting not in others else 2

        return rank

    def _watch(self) -> None:
        """Report epochs to the search (which may prune) and refresh the live view."""
        for item in self.running:
            if item.trial.status == PRUNED:
                continue  # asked to stop once; a second SIGTERM would cut it short at once
            known = item.trial.run_dir
            path = item.run_dir()
            if path is None:
                continue
            if not known:
                self.state.save()  # readers of sweep.json can follow the trial from now on
            rows = runs.read_history(path / runs.HISTORY_FILE)
            item.trial.epochs = len(rows)
            for row in rows[item.reported :]:
                value = row.get(self.state.monitor)
                if isinstance(value, (int, float)) and self.search.report(
                    item.trial, value, int(row["epoch"])
                ):
                    item.trial.status = PRUNED
                    item.stop()
                    break
            item.reported = len(rows)
        self.on_change()

    def _reap(self) -> None:
        for item in list(self.running):
            code = item.poll()
            if code is None:
                continue
            self.running.remove(item)
            trial = item.trial
            path = item.run_dir()
            run = runs.read_run(path) if path is not None else None
            pruned = trial.status == PRUNED
            trial.status = PRUNED if pruned else _status_for(code, run)
            if run is not None:
                trial.epochs = run.epochs_run
                trial.value = trial_value(run, self.state.monitor, self.state.direction)
                trial.message = run.info.get("message")
            if trial.status == runs.FAILED and not trial.message:
                trial.message = _last_lines(trial.log_path(self.state.folder))
            self.pool.finished(item, healthy=trial.status not in (runs.FAILED, runs.CRASHED))
            self.search.tell(trial, self.state)
            self.state.save()
            self.on_change()

    def _on_signal(self, signum, frame) -> None:
        if self.stop_signal is not None:  # second Ctrl-C: stop the trials at once
            for item in self.running:
                item.kill()
            return
        self.stop_signal = signum
        for item in self.running:
            item.stop()  # each stops after its current batch


def _status_for(code: int, run: runs.Run | None) -> str:
    if run is not None and run.info.get("status") not in (None, runs.RUNNING):
        return run.info["status"]
    if code == EXIT_OK:
        return runs.COMPLETED
    if code == EXIT_DIVERGED:
        return runs.DIVERGED
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED, -signal.SIGTERM, -signal.SIGINT):
        return runs.INTERRUPTED
    return runs.FAILED  # a user error inside the trial (exit 2) or a crash


def _last_lines(path: Path, count: int = 3) -> str:
    try:
        lines = [line for line in files.read_tail(path).splitlines() if line.strip()]
    except (OSError, files.FileRefused):
        return ""
    return " | ".join(lines[-count:])


# --------------------------------------------------------------------------- entry points


def make_search(state: SweepState, sweep: SweepConfig) -> Search:
    """The search a sweep's state asks for: a fixed plan, or Optuna's guided one."""
    if state.search == "optuna":
        from dnn_lab.sweep.optuna_search import OptunaSearch

        return OptunaSearch(state, sweep)
    if state.search == "hyperband":
        from dnn_lab.sweep.hyperband import HalvingSearch, epochs_of

        return HalvingSearch(state, epochs_of(state))
    return FixedPlan()


@contextmanager
def connected(executor: ExecutorOptions) -> Iterator:
    """The Ray cluster for ``--executor ray`` (None for local), connected before anything.

    Connecting first means a missing Ray, an unreachable cluster or a trial no node can
    hold is one clear error, with no sweep folder left behind.
    """
    if executor.kind == LOCAL:
        yield None
        return
    address = executor.address or os.environ.get("RAY_ADDRESS") or ""
    if address.split("://")[-1].rsplit(":", 1)[0] in ("127.0.0.1", "localhost", "[::1]"):
        # Ray turns a loopback address into this machine's network address before it
        # connects, and a cluster started on 127.0.0.1 listens there only; this (read when
        # Ray is imported) keeps it on 127.0.0.1.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        from dnn_lab.sweep.ray_executor import RayCluster
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "ray":
            raise
        raise DnnLabError(
            "--executor ray needs Ray, which is not installed: pip install 'dnn-lab[ray]'"
        ) from None
    cluster = RayCluster.connect(executor.address, executor.cpus_per_trial, executor.gpus_per_trial)
    try:
        yield cluster
    finally:
        cluster.close()


def run_sweep(
    state: SweepState, sweep: SweepConfig, workers: int | None, view, cluster=None
) -> int:
    """Run (or continue) a sweep with a live view; returns the exit code.

    ``cluster``: a connected :class:`~dnn_lab.sweep.ray_executor.RayCluster` runs the
    trials there; None runs them in warm worker processes here.
    """
    count = workers or sweep.workers
    remaining = sum(1 for t in state.trials if t.status not in FINISHED) or state.planned
    if cluster is not None:
        count = count or cluster.default_workers(remaining)
        pool = cluster.pool(state)
    else:
        gpus = default_workers() if _has_gpus() else 0  # asks nvidia-smi: once per sweep
        threads = threads_for(count) if count else None
        if count is None:
            count, threads = auto_workers(remaining, gpus)
        pool = WorkerPool(state, threads, gpus)
    runner = SweepRunner(state, count, search=make_search(state, sweep), pool=pool)
    runner.on_change = lambda: view.update(state, runner)
    view.start(state, runner)
    try:
        return runner.run()
    finally:
        view.stop(state)


def start_sweep(
    config: Config,
    sweep: SweepConfig,
    runs_dir: Path,
    workers: int | None,
    view,
    executor: ExecutorOptions | None = None,
) -> int:
    """Make a new sweep folder and run it as its one driver; returns the exit code."""
    with connected(executor or ExecutorOptions()) as cluster:
        state = create_sweep(config, sweep, runs_dir)
        with DriverLock(state.folder):
            return run_sweep(state, sweep, workers, view, cluster)


def resume_sweep(
    folder: Path, workers: int | None, view, executor: ExecutorOptions | None = None
) -> int:
    """Continue a sweep folder as its one driver; exits 2 at once if another driver has it.

    A sweep may be resumed on another executor than the one that began it: trials are
    the same runs wherever they train.
    """
    SweepState.load(folder)  # a clear error for a folder that is not a sweep
    with DriverLock(folder) as lock:
        if lock.took_over:
            view.note(lock.took_over)
        state = SweepState.load(folder)  # read again under the lock: the last driver's word
        with connected(executor or ExecutorOptions()) as cluster:
            return run_sweep(state, sweep_config_of(state), workers, view, cluster)
