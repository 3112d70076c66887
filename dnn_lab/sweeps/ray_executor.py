"""Trials on a Ray cluster: each trial a Ray task on whichever node Ray places it.

``dnn-lab sweep ... --executor ray`` connects to the cluster named by ``--ray-address``
or ``RAY_ADDRESS`` (with neither, it starts a Ray of its own for the sweep and stops it
at the end). Each trial is one task reserving ``--cpus-per-trial`` CPUs and
``--gpus-per-trial`` GPUs; Ray picks the node and sets the visible devices there.

No shared filesystem is needed. The task trains into a temporary folder on its node,
exactly as a warm worker would (:func:`dnn_lab.training.worker.run_trial`), then returns
the run directory packed as tar bytes, with the trial's log. The driver unpacks it into
the sweep folder under the name it had, so ``compare``, ``report`` and ``--resume`` see a
trial like any local one. Only the request (the base config's text, the overrides) and
the packed result travel.

Ray reuses a task's worker process for the next task with the same runtime environment,
so Keras is imported once per process, as in a local warm worker. The runtime
environment carries the thread settings (set before Keras loads, so histories match a
local run digit for digit) and the process-wide settings (backend, device, precision):
trials that need other ones get other processes.

Faults: a task whose node or process is lost is retried once by Ray (``max_retries``),
wherever there is room; a second loss records the trial ``failed`` with the reason. A
lost attempt sends nothing back, so a trial is never counted twice. Stopping (Ctrl-C)
cancels the tasks (``ray.cancel``), and a task still running a few seconds later has
its process ended (``force=True``); the trial is recorded ``interrupted``, and its partial
run is left in a ``dnn-lab-trial-<pid>-*`` folder on that node until the next trial there
removes it.

Ray is imported only here, and this module only when the Ray executor is chosen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import shutil
import socket
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

from dnn_lab.errors import EXIT_BUG, EXIT_INTERRUPTED, DnnLabError
from dnn_lab.store import files, index, runs
from dnn_lab.store.trial_messages import TrialAnswer, TrialRequest
from dnn_lab.sweeps.state import BASE_FILE, Trial
from dnn_lab.sweeps.workers import SettingsOf, thread_environment, trial_request

ATTEMPTS = 2  # a trial whose node is lost runs once more, then counts as failed
PROCESS_VARIABLE = "DNN_LAB_PROCESS"  # process-wide settings: different ones, other workers
# A cancelled task is asked to stop after its batch (KeyboardInterrupt in the task); on
# Ray 2.60 that did not reach a training task, so after this long its process is ended.
STOP_GRACE_SECONDS = 3.0
INCOMING = ".incoming-"  # a packed run is unpacked here, then renamed into the sweep folder
SCRATCH = "dnn-lab-trial-"  # + the task process's pid: a trial's folder on its node


# --------------------------------------------------------------------------- on the node


def run_packed_trial(request: TrialRequest) -> TrialAnswer:
    """Train one trial in a temporary folder here; its run directory and log, packed.

    Runs as a Ray task on the node Ray chose. The answer is the warm worker's answer
    with the run directory as tar bytes (or None), the log and the Ray node ID (also
    written into run.json as ``node``).
    """
    from dnn_lab.training.worker import run_trial

    received = time.perf_counter()
    node = ray.get_runtime_context().get_node_id()
    _remove_abandoned_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH}{os.getpid()}-") as scratch:
        here = request.on_node(Path(scratch))
        runs.atomic_write_text(here.config, request.base_config_text or "")
        answer = run_trial(here, received)
        packed = None
        if answer.run_dir is not None:
            _stamp(answer.run_dir, node=node, config_path=str(request.driver_config))
            packed = pack_run(answer.run_dir)
        return dataclasses.replace(
            answer,
            packed_run=packed,
            log_bytes=here.log.read_bytes() if here.log.exists() else b"",
            node=node,
        )


def _remove_abandoned_scratch() -> None:
    """Remove the scratch folders of trials whose process was ended before it could."""
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH}*"):
        pid = path.name[len(SCRATCH) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:  # its process is gone: nobody will use it again
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # another user's process, alive
            pass


def _stamp(run_dir: Path, *, node: str, config_path: str) -> None:
    """run.json says which node trained it, and names the sweep's base config, not a temp copy."""
    path = run_dir / runs.RUN_FILE
    try:
        info = files.read_json(path, files.MAX_RUN_BYTES)
    except (OSError, files.FileRefused):
        return  # a damaged run travels as it is
    if not isinstance(info, dict):
        return
    info["node"] = node
    info["config_path"] = config_path
    runs.write_json(path, info)


def pack_run(run_dir: Path) -> bytes:
    """A run directory as gzipped tar bytes, its own name at the top."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        tar.add(run_dir, arcname=run_dir.name)
    return buffer.getvalue()


# --------------------------------------------------------------------------- on the driver


def unpack_run(packed: bytes, folder: Path) -> Path:
    """Unpack a packed run directory into ``folder`` under its own name (``-2``... if taken)."""
    incoming = Path(tempfile.mkdtemp(prefix=INCOMING, dir=folder))
    try:
        with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(incoming, filter="data")
            else:  # Python before 3.10.12: the names are checked by hand
                for member in tar.getmembers():
                    if member.name.startswith(("/", "..")) or ".." in Path(member.name).parts:
                        raise DnnLabError(f"a packed run holds an unsafe path: {member.name}")
                    if not (member.isfile() or member.isdir()):
                        raise DnnLabError(f"a packed run holds a link or device: {member.name}")
                tar.extractall(incoming)
        (run,) = list(incoming.iterdir())
        target, attempt = folder / run.name, 1
        while target.exists():  # one driver per folder: no one else adds names meanwhile
            attempt += 1
            target = folder / f"{run.name}-{attempt}"
        run.rename(target)
        index.add_run(target)  # trained elsewhere: entered here, where the folder's index is
        return target
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _check_reachable(address: str) -> None:
    """Fail in seconds where nothing listens: Ray itself retries for minutes."""
    if "://" in address:  # ray://... (Ray Client) and the like: Ray's own checks
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise DnnLabError(f"--ray-address {address}: expected HOST:PORT, e.g. 10.0.0.1:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DnnLabError(
            f"cannot reach the Ray cluster at {address}: {reason} (is `ray start --head` "
            "running there?)"
        ) from None


class RayCluster:
    """The driver's connection to a Ray cluster, for one sweep; ``close()`` ends it."""

    def __init__(self, *, cpus_per_trial: float, gpus_per_trial: float, started: bool):
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.started = started  # a Ray of our own, stopped with the sweep

    @classmethod
    def connect(
        cls, address: str | None, cpus_per_trial: float, gpus_per_trial: float
    ) -> RayCluster:
        """Join ``address`` (or ``RAY_ADDRESS``); with neither, start a Ray here."""
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            _check_reachable(address)
        quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(
                    address="local",  # our own, even where `ray start` runs one here
                    num_cpus=os.cpu_count() or 1,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",  # a Ray of our own serves this machine only
                    **quiet,
                )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise DnnLabError(f"cannot reach {where}: {exc}") from None
        cluster = cls(
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
            started=not address,
        )
        try:
            cluster._check_fits()
        except DnnLabError:
            cluster.close()
            raise
        return cluster

    def _check_fits(self) -> None:
        """A trial that no node can hold would wait forever: say so now."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        for kind, wanted in (("CPU", self.cpus_per_trial), ("GPU", self.gpus_per_trial)):
            largest = max((n.get(kind, 0) for n in nodes), default=0)
            if wanted > largest:
                raise DnnLabError(
                    f"--{kind.lower()}s-per-trial {wanted:g}: no node of the Ray cluster has "
                    f"that many {kind}s (the largest has {largest:g})"
                )

    def default_workers(self, trials: int) -> int:
        """As many trials at once as the cluster's CPUs (and GPUs) hold, no more than trials."""
        total = ray.cluster_resources()
        fits = [
            int(total.get(kind, 0) // wanted + 1e-9)
            for kind, wanted in (("CPU", self.cpus_per_trial), ("GPU", self.gpus_per_trial))
            if wanted > 0
        ]
        return max(1, min([*fits, max(1, trials)]))

    def threads(self) -> int:
        """Threads per trial: the CPUs it reserved, as a local worker gets its cores' share."""
        return max(1, math.floor(self.cpus_per_trial))

    def pool(self, folder: Path, sweep_name: str) -> RayPool:
        return RayPool(folder, sweep_name, self)

    def close(self) -> None:
        if ray.is_initialized():
            ray.shutdown()  # ours stops; a cluster we joined stays, our tasks end with us


class RayPool:
    """Starts each trial as a Ray task; the runner's ``workers`` caps how many at once."""

    def __init__(self, folder: Path, sweep_name: str, cluster: RayCluster):
        self.folder = folder
        self.sweep_name = sweep_name
        self.cluster = cluster
        # A warm process keeps the GPU it first saw; Ray may hand the next trial another one.
        # So on GPUs each trial gets a fresh process (Ray's own default for GPU tasks).
        calls = 1 if cluster.gpus_per_trial > 0 else 0  # 0: no limit
        self._task = ray.remote(max_calls=calls)(run_packed_trial)
        self._env = thread_environment(cluster.threads())
        self._open: list[RayTrial] = []
        self._settings_of = SettingsOf(folder)
        self._base_config = files.read_text(folder / BASE_FILE, files.MAX_CONFIG_BYTES)

    def start(self, trial: Trial, slot: int) -> RayTrial:
        settings = self._settings_of(trial)
        env = {**self._env, PROCESS_VARIABLE: "/".join(map(str, vars(settings).values()))}
        options: dict[str, Any] = {
            "num_cpus": self.cluster.cpus_per_trial,
            "num_gpus": self.cluster.gpus_per_trial,
            "max_retries": ATTEMPTS - 1,  # the node or the process was lost: once more
            "retry_exceptions": False,  # a trial's own error is its result, not a fault
            "runtime_env": {"env_vars": env},
        }
        request = trial_request(self.folder, self.sweep_name, trial)
        request = dataclasses.replace(
            request, base_config_text=self._base_config, driver_config=request.config
        )
        ref = self._task.options(**options).remote(request)
        handle = RayTrial(trial, slot, ref, self.folder)
        self._open.append(handle)
        return handle

    def finished(self, handle: RayTrial, healthy: bool) -> None:
        if handle in self._open:
            self._open.remove(handle)

    def close(self, kill: bool = False) -> None:
        for handle in self._open:
            handle.cancel(force=kill)
        self._open.clear()


class RayTrial:
    """A trial running as a Ray task: poll, stop, kill, run_dir.

    It reports what it sees and writes nothing to the trial: the runner records it.
    """

    def __init__(self, trial: Trial, slot: int, ref, folder: Path):
        self.trial = trial
        self.slot = slot
        self.ref = ref
        self.folder = folder
        self._run_dir: Path | None = None
        self.reported = 0  # the history arrives with the run: nothing to report before
        self.code: int | None = None
        self.stopping = self.killing = False
        self._cancelled = 0  # 1: cancelled, 2: cancelled by force
        self._stop_asked = 0.0

    def poll(self) -> int | None:
        if self.code is not None:
            return self.code
        if self.stopping:
            overdue = time.monotonic() - self._stop_asked > STOP_GRACE_SECONDS
            self.cancel(force=self.killing or (self._cancelled == 1 and overdue))
        ready, _ = ray.wait([self.ref], timeout=0)
        if not ready:
            return None
        try:
            answer = ray.get(self.ref)
        except ray.exceptions.TaskCancelledError:
            self._note("stopped: the task was cancelled before it sent its run back")
            self.code = EXIT_INTERRUPTED
        except ray.exceptions.RayTaskError as exc:  # dnn-lab's task itself broke: a bug
            self._note(f"the task failed on the cluster:\n{exc}")
            self.code = EXIT_BUG
        except ray.exceptions.RayError as exc:  # the node or the process was lost, twice
            if self.stopping:
                self._note(f"stopped: {type(exc).__name__}")
                self.code = EXIT_INTERRUPTED
            else:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                self._note(f"lost on the cluster {ATTEMPTS} times ({type(exc).__name__}): {reason}")
                self.code = EXIT_BUG
        else:
            self._land(answer)
            self.code = answer.exit_code
        return self.code

    def _land(self, answer: TrialAnswer) -> None:
        """The trial's log and run directory, into the sweep folder as a local trial leaves them."""
        log = self.trial.log_path(self.folder)
        log.parent.mkdir(exist_ok=True)
        runs.atomic_write_bytes(log, answer.log_bytes)
        if answer.packed_run:
            self._run_dir = unpack_run(answer.packed_run, self.folder)

    def _note(self, text: str) -> None:
        """Say in the trial's log what happened to it; the last lines become its message."""
        log = self.trial.log_path(self.folder)
        log.parent.mkdir(exist_ok=True)
        with os.fdopen(files.open_for_writing(log, append=True), "a") as out:
            out.write(text.rstrip() + "\n")

    def stop(self) -> None:
        """Cancel the task; if it has not ended ``STOP_GRACE_SECONDS`` later, end its process.

        Called from the driver's signal handler, so it only takes note; the next
        ``poll`` cancels.
        """
        self.stopping = True

    def kill(self) -> None:
        """End the task's process at once (at the next ``poll``)."""
        self.stopping = self.killing = True

    def cancel(self, force: bool = False) -> None:
        """``ray.cancel`` the task, once gently and once more by force if asked."""
        if self.code is not None or self._cancelled >= (2 if force else 1):
            return
        if not self._cancelled:
            self._stop_asked = time.monotonic()
        self._cancelled = 2 if force else 1
        self.stopping = True
        with contextlib.suppress(ValueError, ray.exceptions.RayError):
            ray.cancel(self.ref, force=force)

    def run_dir(self) -> Path | None:
        return self._run_dir
