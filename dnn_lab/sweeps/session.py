"""One sweep, start to finish: what ``dnn-lab sweep`` and the Python API both call.

``run_sweep(request, view)`` plans a new sweep (or reads an interrupted one back),
checks the executor's options and the worker count, takes the folder's driver lock,
connects to Ray when asked, runs the trials and returns what happened. The command
line only parses its flags into a :class:`SweepRequest` and exits with the outcome's
code; the view draws on the way (the live table, the plan of a dry run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dnn_lab.config.loading import validate_config
from dnn_lab.config.schema import Config, SweepConfig
from dnn_lab.errors import EXIT_OK, DnnLabError
from dnn_lab.store.sweep_file import require_sweep_folder
from dnn_lab.sweeps.driver import DriverLock
from dnn_lab.sweeps.executor import LOCAL, RAY, ExecutorOptions
from dnn_lab.sweeps.plan import (
    create_sweep,
    merged_sweep,
    planned_runs,
    sweep_config_of,
    trial_plan,
)
from dnn_lab.sweeps.runner import SweepRunner
from dnn_lab.sweeps.search import FixedPlan, Search
from dnn_lab.sweeps.state import FINISHED, SweepState, Trial
from dnn_lab.sweeps.workers import WorkerPool, auto_workers, capped_workers, threads_for


class NothingToSweep(DnnLabError):
    """No axis, search space or repeats: one run, which ``train`` is for."""


@dataclass(frozen=True, kw_only=True)
class SweepRequest:
    """Everything ``dnn-lab sweep`` takes, as values (flags in the CLI's spelling)."""

    config: Config | None = None  # the base config; None with ``resume``
    grid: tuple[str, ...] = ()  # axes as --grid takes them: "model.units=8,16"
    random: tuple[str, ...] = ()  # ranges as --random takes them: "key=loguniform(1e-4,1e-2)"
    search: str | None = None  # grid, random, optuna, hyperband; None: the config's, else grid
    objectives: tuple[str, ...] | None = None  # optuna: metric, cost (a multi-objective study)
    trials: int | None = None  # settings to try (random, optuna, hyperband)
    repeats: int | None = None  # seeds per setting
    workers: int | str | None = None  # trials at a time: a count, "auto" or None (auto)
    runs_dir: Path = Path("runs")  # where the new sweep folder goes
    name: str | None = None  # the sweep's name; None keeps the config's
    dry_run: bool = False  # list the trials, train nothing, write nothing
    resume: Path | None = None  # an interrupted sweep folder to continue
    executor: str = LOCAL  # local: warm worker processes here; ray: a Ray cluster
    ray_address: str | None = None  # Ray only; None: RAY_ADDRESS, else a Ray of our own
    cpus_per_trial: float | None = None  # Ray only (default 1)
    gpus_per_trial: float | None = None  # Ray only (default 0)


@dataclass(frozen=True, kw_only=True)
class SweepOutcome:
    """What a sweep did: its folder, the exit code for the process, its trials' statuses."""

    folder: Path | None  # None: a dry run of a new sweep (no folder is made)
    exit_code: int
    status: str  # the sweep's status (completed, interrupted), or "planned" for a dry run
    planned: int  # runs the sweep plans (settings x seeds; hyperband: every rung's runs)
    counts: dict[str, int]  # trials per status
    trials: tuple[Trial, ...]  # each trial as it ended (a dry run: as planned)


PLANNED = "planned"  # SweepOutcome.status of a dry run


class SweepWatcher(Protocol):
    """What ``run_sweep`` shows on the way (``dnn_lab.sweeps.view.SweepView`` draws it)."""

    def note(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def trial_plan(self, trials: list[Trial], sweep: SweepConfig) -> None: ...
    def resume_plan(self, state: SweepState) -> None: ...
    def start(self, state: SweepState, runner: SweepRunner) -> None: ...
    def update(self, state: SweepState, runner: SweepRunner) -> None: ...
    def stop(self, state: SweepState) -> None: ...


def run_sweep(request: SweepRequest, view: SweepWatcher) -> SweepOutcome:
    """Plan, run or continue the sweep ``request`` asks for.

    Raises:
        DnnLabError: a user error (a bad flag, axis or folder), before any training.
    """
    executor = executor_options(request)
    workers = worker_count(request.workers)
    if request.resume is not None:
        return _resume(request.resume, workers, view, executor, dry_run=request.dry_run)
    if request.config is None:
        raise DnnLabError("give a CONFIG to sweep, or --resume SWEEP_DIR")
    config = request.config
    if request.name is not None and request.name != config.name:
        config = validate_config({**config.to_dict(), "name": request.name})
    sweep = merged_sweep(
        config,
        request.grid,
        request.random,
        request.search,
        request.trials,
        request.repeats,
        workers,
        objectives=list(request.objectives) if request.objectives else None,
    )
    if not sweep.grid and not sweep.space and sweep.repeats == 1:
        raise NothingToSweep(
            "nothing to sweep: give --grid KEY=V1,V2, --random KEY=KIND(ARGS), --repeats N, "
            "or a sweep: section in the config"
        )
    if request.dry_run:
        trials = trial_plan(config, sweep)
        view.trial_plan(trials, sweep)
        return _planned(None, trials, planned_runs(sweep, trials, config.train.epochs))
    with connected(executor) as cluster:
        state = create_sweep(config, sweep, request.runs_dir)
        with DriverLock(state.folder):
            code = _drive(state, sweep, workers, view, cluster)
    return _ended(state, code)


def _resume(
    folder: Path, workers: int | None, view, executor: ExecutorOptions, *, dry_run: bool
) -> SweepOutcome:
    """Continue a sweep folder as its one driver; a dry run reads ``sweep.json`` alone.

    A sweep may be resumed on another executor than the one that began it: trials are
    the same runs wherever they train.
    """
    if dry_run:  # reads sweep.json only: no lock, no training
        state = SweepState.load(folder)
        view.resume_plan(state)
        return _planned(state.folder, state.trials, state.planned)
    require_sweep_folder(folder)  # before the lock: no lock file left in a wrong folder
    with DriverLock(folder) as lock:
        if lock.took_over:
            view.note(lock.took_over)
        state = SweepState.load(folder)  # read once, under the lock: the last driver's word
        with connected(executor) as cluster:
            code = _drive(state, sweep_config_of(state), workers, view, cluster)
    return _ended(state, code)


def _planned(folder: Path | None, trials: list[Trial], planned: int) -> SweepOutcome:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    return SweepOutcome(
        folder=folder,
        exit_code=EXIT_OK,
        status=PLANNED,
        planned=planned,
        counts=counts,
        trials=tuple(trials),
    )


def _ended(state: SweepState, code: int) -> SweepOutcome:
    return SweepOutcome(
        folder=state.folder,
        exit_code=code,
        status=str(state.status),
        planned=state.planned,
        counts=state.counts(),
        trials=tuple(state.trials),
    )


# --------------------------------------------------------------------------- the options


def executor_options(request: SweepRequest) -> ExecutorOptions:
    """Where the trials run; Ray's options given with the local executor are a user error."""
    if request.executor not in (LOCAL, RAY):
        raise DnnLabError(f"--executor: expected local or ray; received {request.executor!r}")
    if request.executor == LOCAL:
        given = [
            flag
            for flag, value in (
                ("--ray-address", request.ray_address),
                ("--cpus-per-trial", request.cpus_per_trial),
                ("--gpus-per-trial", request.gpus_per_trial),
            )
            if value is not None
        ]
        if given:
            raise DnnLabError(f"{', '.join(given)}: only with --executor ray")
    return ExecutorOptions(
        kind=request.executor,
        address=request.ray_address,
        cpus_per_trial=1.0 if request.cpus_per_trial is None else request.cpus_per_trial,
        gpus_per_trial=request.gpus_per_trial or 0.0,
    )


def worker_count(value: Any) -> int | None:
    """``--workers``: a count, or ``auto`` (None: the sweep decides from cores and GPUs)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    text = str(value).strip()
    if text.lower() == "auto":
        return None
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise DnnLabError(f"--workers: expected a number of at least 1, or auto; received {value!r}")


# --------------------------------------------------------------------------- running


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


def make_search(state: SweepState, sweep: SweepConfig) -> Search:
    """The search a sweep's state asks for: a fixed plan, or Optuna's guided one."""
    if state.search == "optuna":
        from dnn_lab.sweeps.optuna_search import OptunaSearch

        return OptunaSearch(state, sweep)
    if state.search == "hyperband":
        from dnn_lab.sweeps.hyperband import HalvingSearch, epochs_of

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
        from dnn_lab.sweeps.ray_executor import RayCluster
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


def _drive(state: SweepState, sweep: SweepConfig, workers: int | None, view, cluster) -> int:
    """Run (or continue) a sweep with a live view; returns the exit code.

    ``cluster``: a connected :class:`~dnn_lab.sweeps.ray_executor.RayCluster` runs the
    trials there; None runs them in warm worker processes here, no more at a time than
    the cores and memory hold.
    """
    count = workers or sweep.workers
    remaining = sum(1 for t in state.trials if t.status not in FINISHED) or state.planned
    if cluster is not None:
        count = count or cluster.default_workers(remaining)
        pool = cluster.pool(state.folder, state.name)
    else:
        gpus = default_workers() if _has_gpus() else 0  # asks nvidia-smi: once per sweep
        if count is not None:
            count, why = capped_workers(count)
            if why:
                view.warn(why)
        threads = threads_for(count) if count else None
        if count is None:
            count, threads = auto_workers(remaining, gpus)
        pool = WorkerPool(state.folder, state.name, threads, gpus)
    runner = SweepRunner(state, count, search=make_search(state, sweep), pool=pool)
    runner.on_change = lambda: view.update(state, runner)
    view.start(state, runner)
    try:
        return runner.run()
    finally:
        view.stop(state)
