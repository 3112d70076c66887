"""Warm trial workers: processes that import Keras once and train trial after trial.

Starting Python and importing the framework took most of a short trial. A sweep
keeps one worker process per slot (``python -m dnn_lab.training.worker``) and hands
it one trial at a time; the trial writes its own run directory and its own log as a
``dnn-lab train`` process would. A worker is replaced when the next trial needs other
process-wide settings (backend, device, precision, deterministic ops), after a trial
that failed or crashed, and after ``MAX_TRIALS_PER_WORKER`` trials. Workers die with
the driver (the kernel is asked to end them), so no trial outlives its sweep.

Nothing here imports Keras: the driver only starts processes and reads their answers.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dnn_lab.config.loading import apply_overrides, read_config_file, validate_config
from dnn_lab.errors import EXIT_BUG
from dnn_lab.store import files, runs
from dnn_lab.sweep.state import BASE_FILE, LOGS_DIR, SweepState, Trial

# A worker that has trained this many trials is replaced, so that whatever a framework
# keeps from trial to trial (caches, fragmented memory) stays bounded.
MAX_TRIALS_PER_WORKER = 200
# Resident memory of one TensorFlow worker with a small model, with some headroom.
WORKER_MEMORY_BYTES = 1.5 * 2**30


def auto_workers(trials: int, gpus: int) -> tuple[int, int]:
    """(workers, threads per worker) that pay on this machine for ``trials`` trials.

    With GPUs: one worker per GPU. On CPUs: one worker per core (small dense networks
    use one core well, and two trials side by side finish sooner than one trial on two
    cores), no more than there are trials or than memory holds; the cores are shared
    out so that workers x threads fit them.
    """
    cores = os.cpu_count() or 1
    if gpus:
        return max(1, min(gpus, trials)), max(1, cores // gpus)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        by_memory = max(1, int(memory // WORKER_MEMORY_BYTES))
    except (ValueError, OSError, AttributeError):
        by_memory = cores
    workers = max(1, min(cores, by_memory, max(1, trials)))
    return workers, max(1, cores // workers)


def threads_for(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def thread_environment(threads: int) -> dict[str, str]:
    """Environment that limits a new worker to ``threads`` threads.

    ``DNN_LAB_THREADS`` is read by ``dnn_lab.training.backend`` when Keras loads
    (TensorFlow's thread pools); XLA's CPU client (JAX) reads ``XLA_FLAGS``.
    """
    env = {"DNN_LAB_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    return env


@dataclass(frozen=True)
class ProcessSettings:
    """What must be the same for two trials to share a worker process."""

    backend: str
    device: str
    precision: str
    deterministic: str


class SettingsOf:
    """Each trial's process settings: the base config read once, each setting checked once.

    Seeds and epoch budgets never change them, so trials of one setting share an answer.
    """

    def __init__(self, state: SweepState):
        self._base = read_config_file(state.folder / BASE_FILE)
        self._known: dict[str, ProcessSettings] = {}

    def __call__(self, trial: Trial) -> ProcessSettings:
        key = trial.setting()
        if key not in self._known:
            data = apply_overrides(copy.deepcopy(self._base), trial.set_args())
            config = validate_config(data)
            self._known[key] = ProcessSettings(
                backend=config.backend,
                device=config.device,
                precision=config.train.precision,
                deterministic=str(config.train.deterministic),
            )
        return self._known[key]


def trial_request(state: SweepState, trial: Trial) -> dict[str, Any]:
    """What a worker needs to train ``trial`` as ``dnn-lab train`` would (its protocol)."""
    name = f"{state.name}-{trial.index:03d}"
    base = state.folder / BASE_FILE
    command = ["dnn-lab", "train", str(base), "--runs-dir", str(state.folder), "--name", name]
    for arg in trial.set_args():
        command += ["--set", arg]
    return {
        "config": str(base),
        "overrides": trial.set_args(),
        "runs_dir": str(state.folder),
        "name": name,
        "log": str(trial.log_path(state.folder)),
        "command": command,
    }


class Worker:
    """One worker process: its pipes, its settings and how many trials it has run."""

    def __init__(self, settings: ProcessSettings, env: dict[str, str], log: Path):
        self.settings = settings
        self.trials = 0
        log.parent.mkdir(exist_ok=True)
        self._log: IO[str] = os.fdopen(files.open_for_writing(log, append=True), "a")
        # its own session: Ctrl-C reaches the driver only, which then stops each trial
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dnn_lab.training.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            start_new_session=True,
        )
        os.set_blocking(self.process.stdout.fileno(), False)
        self._buffer = b""

    def send(self, request: dict) -> None:
        self.trials += 1
        self.process.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
        self.process.stdin.flush()

    def answer(self) -> dict | None:
        """The next answer, if one has arrived; never waits."""
        try:
            chunk = os.read(self.process.stdout.fileno(), 65536)
        except BlockingIOError:
            chunk = b""
        self._buffer += chunk
        if b"\n" not in self._buffer:
            return None
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            return {"exit_code": EXIT_BUG, "status": None, "run_dir": None}

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self, kill: bool = False) -> None:
        """End the worker: its input closed (it exits between trials), or killed."""
        if self.alive():
            if kill:
                self.process.kill()
            else:
                try:
                    self.process.stdin.close()
                except OSError:
                    self.process.kill()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self._log):
            with contextlib.suppress(OSError):
                stream.close()


class WorkerTrial:
    """A trial handed to a warm worker, as the runner sees it: poll, stop, kill, run_dir."""

    def __init__(self, trial: Trial, slot: int, worker: Worker, state: SweepState):
        self.trial = trial
        self.slot = slot
        self.worker = worker
        self.folder = state.folder
        self.reported = 0  # history rows already shown to the search
        self.code: int | None = None
        log = trial.log_path(state.folder)
        log.parent.mkdir(exist_ok=True)
        worker.send(trial_request(state, trial))

    def poll(self) -> int | None:
        """The trial's exit code once it has ended, as ``dnn-lab train`` would exit."""
        if self.code is not None:
            return self.code
        answer = self.worker.answer()
        if answer is not None:
            self.code = int(answer.get("exit_code", EXIT_BUG))
            if answer.get("run_dir"):
                self.trial.run_dir = answer["run_dir"]
        elif not self.worker.alive():  # the worker crashed (or was killed) mid-trial
            self.code = self.worker.process.returncode or EXIT_BUG
        return self.code

    def stop(self) -> None:
        """Stop after the current batch: the trial records itself as interrupted."""
        if self.worker.alive():
            self.worker.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.worker.close(kill=True)

    def run_dir(self) -> Path | None:
        """The run directory this trial made (found by its worker's pid and name)."""
        if self.trial.run_dir:
            return Path(self.trial.run_dir)
        suffix = f"-{self.trial.index:03d}"
        for path in self.folder.iterdir():
            if not path.is_dir() or suffix not in path.name:
                continue
            try:
                info = files.read_json(path / runs.RUN_FILE, files.MAX_RUN_BYTES)
            except (OSError, files.FileRefused):
                continue
            if not isinstance(info, dict):
                continue
            if info.get("pid") == self.worker.process.pid and str(info.get("name", "")).endswith(
                suffix
            ):
                self.trial.run_dir = str(path)
                return path
        return None


class WorkerPool:
    """One warm worker per slot, started on demand and replaced when it must be."""

    def __init__(self, state: SweepState, threads: int, gpu_slots: int = 0):
        self.state = state
        self.gpu_slots = gpu_slots
        self.workers: dict[int, Worker] = {}
        self._thread_env = thread_environment(threads)
        self._settings_of = SettingsOf(state)

    def start(self, trial: Trial, slot: int) -> WorkerTrial:
        settings = self._settings_of(trial)
        worker = self.workers.get(slot)
        if worker is not None and (
            not worker.alive()
            or worker.settings != settings
            or worker.trials >= MAX_TRIALS_PER_WORKER
        ):
            worker.close()
            worker = None
        if worker is None:
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **self._thread_env}
            if self.gpu_slots:
                env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpu_slots)
            log = self.state.folder / LOGS_DIR / f"worker-{slot}.log"
            worker = self.workers[slot] = Worker(settings, env, log)
        return WorkerTrial(trial, slot, worker, self.state)

    def finished(self, handle: WorkerTrial, healthy: bool) -> None:
        """After a trial: keep its worker warm, or end it if the trial failed or crashed."""
        if not healthy and self.workers.get(handle.slot) is handle.worker:
            self.workers.pop(handle.slot).close(kill=True)

    def close(self, kill: bool = False) -> None:
        for worker in self.workers.values():
            worker.close(kill=kill)
        self.workers.clear()
