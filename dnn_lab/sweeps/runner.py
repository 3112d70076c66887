"""The sweep runner: each trial a normal run, ``workers`` at a time.

A sweep folder ``runs/<date>-<name>-sweep/`` holds ``base.yaml`` (the config every
trial starts from), ``sweep.json`` (axes, search state and every trial's status,
rewritten atomically as trials move) and one run directory per trial. A trial runs
as ``dnn-lab train base.yaml --set ...`` would, in a warm worker process that has
Keras loaded already (:mod:`dnn_lab.sweeps.workers`); a crash costs only its own
trial and its worker.

``SweepRunner`` decides when trials start and end; the search decides which
(:mod:`dnn_lab.sweeps.search`); the executor's pool knows how a trial is started,
watched and stopped: warm worker processes here (the default), or tasks on a Ray
cluster (:mod:`dnn_lab.sweeps.ray_executor`, imported only when chosen).
:mod:`dnn_lab.sweeps.session` makes or reads back the sweep and starts the runner.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from dnn_lab.errors import EXIT_BUG, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED
from dnn_lab.store import files, runs
from dnn_lab.store.status import Status
from dnn_lab.sweeps.executor import TrialHandle, TrialPool
from dnn_lab.sweeps.search import FixedPlan, Search, SearchUpdate
from dnn_lab.sweeps.state import FINISHED, SCORED, Preference, SweepState, Trial, trial_value
from dnn_lab.sweeps.workers import WorkerPool, threads_for

POLL_SECONDS = 0.2  # how often the runner looks at its trials


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
        self.pool: TrialPool = pool or WorkerPool(
            state.folder, state.name, threads_for(self.workers)
        )

    def run(self) -> int:
        """Run until every trial has ended or a signal stops the sweep; the exit code."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for trial in self.state.trials:
                if trial.status not in FINISHED:
                    trial.status, trial.message = Status.PENDING, None
            self.state.status = Status.RUNNING
            self.state.save()
            while True:
                self._reap()
                if self.stop_signal is None:
                    self._launch()
                if not self.running and (
                    self.stop_signal is not None or self.state.pending() is None
                ):
                    break  # nothing runs, and nothing is left to start (the search has no more)
                self._watch()
                time.sleep(POLL_SECONDS)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.pool.close(kill=self.stop_signal is not None and bool(self.running))
        if self.stop_signal is not None:
            for trial in self.state.trials:
                if trial.status in (Status.PENDING, Status.RUNNING):
                    trial.status = Status.INTERRUPTED
            self.state.status = Status.INTERRUPTED
            self.state.save()
            self.on_change()
            return EXIT_TERMINATED if self.stop_signal == signal.SIGTERM else EXIT_INTERRUPTED
        scored = any(t.status in SCORED for t in self.state.trials)
        self.state.status = Status.COMPLETED if scored else Status.FAILED  # nothing to compare
        self.state.save()
        self.on_change()
        return EXIT_OK if scored else EXIT_BUG

    # ----------------------------------------------------------------- internals

    def _launch(self) -> None:
        while len(self.running) < self.workers:
            used = {r.slot for r in self.running}
            slot = next(i for i in range(self.workers) if i not in used)
            trial = next_trial(self.state, self.search, self._warm_first(slot))
            if trial is None:
                return
            self.last_setting[slot] = trial.setting()
            self.running.append(self.pool.start(trial, slot))
            trial.status, trial.run_dir = Status.RUNNING, None
            trial.value = trial.message = None
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
            if item.trial.status == Status.PRUNED:
                continue  # asked to stop once; a second SIGTERM would cut it short at once
            path = item.run_dir()
            if path is None:
                continue
            if not item.trial.run_dir:
                item.trial.run_dir = str(path)
                self.state.save()  # readers of sweep.json can follow the trial from now on
            rows = runs.read_history(path / runs.HISTORY_FILE)
            item.trial.epochs = len(rows)
            for row in rows[item.reported :]:
                value = row.get(self.state.monitor)
                if isinstance(value, (int, float)) and self.search.report(
                    item.trial, value, int(row["epoch"])
                ):
                    item.trial.status = Status.PRUNED
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
            if path is not None:
                trial.run_dir = str(path)
            run = runs.read_run(path) if path is not None else None
            pruned = trial.status == Status.PRUNED
            trial.status = Status.PRUNED if pruned else _status_for(code, run)
            if run is not None:
                trial.epochs = run.epochs_run
                trial.value = trial_value(run, self.state.monitor, self.state.direction)
                trial.message = run.record.message
            if trial.status == Status.FAILED and not trial.message:
                trial.message = _last_lines(trial.log_path(self.state.folder))
            self.pool.finished(item, healthy=trial.status not in (Status.FAILED, Status.CRASHED))
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


def next_trial(state: SweepState, search: Search, prefer: Preference | None = None) -> Trial | None:
    """The pending trial ``prefer`` ranks first; with none pending, the first of those the
    search adds (what it adds, verdicts included, recorded in ``state``); None when nothing
    is left to start now."""
    trial = state.pending(prefer)
    if trial is None:
        update = search.more(state)
        if update:
            record_update(state, update)
            trial = state.pending(prefer)
    return trial


def record_update(state: SweepState, update: SearchUpdate) -> None:
    """Write what a search decided into the sweep's records (the runner's job alone)."""
    for verdict in update.verdicts:
        trial = state.trials[verdict.index]
        trial.status, trial.message = verdict.status, verdict.message
    for trial in update.trials:
        if trial.index != len(state.trials):
            raise ValueError(f"trial {trial.index} proposed; the next is {len(state.trials)}")
        state.trials.append(trial)


def _status_for(code: int, run: runs.Run | None) -> Status:
    written = run.record.status if run is not None else None
    if written in set(Status) - {Status.RUNNING}:  # the run's own word, when it has ended
        return Status(written)
    if code == EXIT_OK:
        return Status.COMPLETED
    if code == EXIT_DIVERGED:
        return Status.DIVERGED
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED, -signal.SIGTERM, -signal.SIGINT):
        return Status.INTERRUPTED
    return Status.FAILED  # a user error inside the trial (exit 2) or a crash


def _last_lines(path: Path, count: int = 3) -> str:
    try:
        lines = [line for line in files.read_tail(path).splitlines() if line.strip()]
    except (OSError, files.FileRefused):
        return ""
    return " | ".join(lines[-count:])
