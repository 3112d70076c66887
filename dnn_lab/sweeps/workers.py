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
from typing import IO

from dnn_lab.config.loading import apply_overrides, read_config_file, validate_config
from dnn_lab.errors import EXIT_BUG
from dnn_lab.store import files, runs
from dnn_lab.store.trial_messages import TrialAnswer, TrialRequest
from dnn_lab.sweeps.state import BASE_FILE, LOGS_DIR, Trial

# A worker that has trained this many trials is replaced, so that whatever a framework
# keeps from trial to trial (caches, fragmented memory) stays bounded.
MAX_TRIALS_PER_WORKER = 200
# Resident memory of one TensorFlow worker with a small model, with some headroom: what
# what ``auto`` counts on.
WORKER_MEMORY_BYTES = 1.5 * 2**30
# What one Keras worker process holds at the least (measured: about 300 MB): more workers
# than memory holds at this size are never started, whatever --workers asks.
LEAST_WORKER_BYTES = 300 * 2**20


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


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
    memory = physical_memory()
    by_memory = cores if memory is None else max(1, int(memory // WORKER_MEMORY_BYTES))
    workers = max(1, min(cores, by_memory, max(1, trials)))
    return workers, max(1, cores // workers)


def capped_workers(asked: int) -> tuple[int, str | None]:
    """``asked`` workers, or fewer when this machine cannot hold them, and why (one line).

    Each worker is a process with Keras loaded, on a core of its own: more than there are
    cores only queue for them, and more than memory holds at about 300 MB each end with
    the kernel killing them.
    """
    cores = os.cpu_count() or 1
    memory = physical_memory()
    by_memory = cores if memory is None else max(1, int(memory // LEAST_WORKER_BYTES))
    cap = max(1, min(cores, by_memory))
    if asked <= cap:
        return asked, None
    held = f"{cores} cores" + ("" if memory is None else f" and {memory / 2**30:.1f} GiB")
    return cap, (
        f"workers: {asked} asked, {cap} started: {held} hold {cap} Keras workers "
        "(one core and about 300 MB each)"
    )


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

    def __init__(self, folder: Path):
        self._base = read_config_file(folder / BASE_FILE)
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


def trial_request(folder: Path, sweep_name: str, trial: Trial) -> TrialRequest:
    """What a worker needs to train ``trial`` of the sweep in ``folder`` as ``dnn-lab train``
    would."""
    name = f"{sweep_name}-{trial.index:03d}"
    base = folder / BASE_FILE
    command = ["dnn-lab", "train", str(base), "--runs-dir", str(folder), "--name", name]
    for arg in trial.set_args():
        command += ["--set", arg]
    return TrialRequest(
        config=base,
        overrides=tuple(trial.set_args()),
        runs_dir=folder,
        name=name,
        log=trial.log_path(folder),
        command=tuple(command),
    )


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

    def send(self, request: TrialRequest) -> None:
        self.trials += 1
        self.process.stdin.write((json.dumps(request.to_json()) + "\n").encode("utf-8"))
        self.process.stdin.flush()

    def answer(self) -> TrialAnswer | None:
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
            return TrialAnswer.from_json(json.loads(line))
        except ValueError:  # not this protocol: a bug on the worker's side
            return TrialAnswer(exit_code=EXIT_BUG)

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
    """A trial handed to a warm worker, as the runner sees it: poll, stop, kill, run_dir.

    It reports what it sees and writes nothing to the trial: the runner records it.
    """

    def __init__(self, trial: Trial, slot: int, worker: Worker, request: TrialRequest):
        self.trial = trial
        self.slot = slot
        self.worker = worker
        self.folder = request.runs_dir
        self.reported = 0  # history rows already shown to the search
        self.code: int | None = None
        self._run_dir: Path | None = None
        request.log.parent.mkdir(exist_ok=True)
        worker.send(request)

    def poll(self) -> int | None:
        """The trial's exit code once it has ended, as ``dnn-lab train`` would exit."""
        if self.code is not None:
            return self.code
        answer = self.worker.answer()
        if answer is not None:
            self.code = answer.exit_code
            self._run_dir = answer.run_dir or self._run_dir
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
        if self._run_dir is not None:
            return self._run_dir
        suffix = f"-{self.trial.index:03d}"
        for path in self.folder.iterdir():
            if not path.is_dir() or suffix not in path.name:
                continue
            record = runs.read_run(path).record
            if record.pid == self.worker.process.pid and (record.name or "").endswith(suffix):
                self._run_dir = path
                return path
        return None


class WorkerPool:
    """One warm worker per slot, started on demand and replaced when it must be."""

    def __init__(self, folder: Path, sweep_name: str, threads: int, gpu_slots: int = 0):
        self.folder = folder
        self.sweep_name = sweep_name
        self.gpu_slots = gpu_slots
        self.workers: dict[int, Worker] = {}
        self._thread_env = thread_environment(threads)
        self._settings_of = SettingsOf(folder)

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
            log = self.folder / LOGS_DIR / f"worker-{slot}.log"
            worker = self.workers[slot] = Worker(settings, env, log)
        return WorkerTrial(trial, slot, worker, trial_request(self.folder, self.sweep_name, trial))

    def finished(self, handle: WorkerTrial, healthy: bool) -> None:
        """After a trial: keep its worker warm, or end it if the trial failed or crashed."""
        if not healthy and self.workers.get(handle.slot) is handle.worker:
            self.workers.pop(handle.slot).close(kill=True)

    def close(self, kill: bool = False) -> None:
        for worker in self.workers.values():
            worker.close(kill=kill)
        self.workers.clear()
