"""Sweeps: many trainings of one config, each trial a normal run in its own process.

A sweep folder ``runs/<date>-<name>-sweep/`` holds ``base.yaml`` (the config every
trial starts from), ``sweep.json`` (axes, search state and every trial's status,
rewritten atomically as trials move) and one run directory per trial. A trial
runs as ``dnn-lab train base.yaml --set ...`` in a subprocess, so the memory of
one never leaks into the next, and a crash of one never stops the others.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from dnn_lab.config.loading import apply_overrides, parse_yaml, validate_config
from dnn_lab.config.schema import Config, SweepConfig
from dnn_lab.errors import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    ConfigError,
    DnnLabError,
)
from dnn_lab.results import rundir as runs

SWEEP_FILE = runs.SWEEP_FILE
BASE_FILE = "base.yaml"

PENDING = "pending"
PRUNED = "pruned"
# Statuses a resumed sweep keeps; every other trial runs again.
FINISHED = frozenset({runs.COMPLETED, runs.FAILED, runs.DIVERGED, PRUNED})


@dataclass
class Trial:
    """One setting and one seed; ``overrides`` are dotted keys as ``--set`` takes them."""

    index: int
    overrides: dict[str, Any]
    seed: int
    status: str = PENDING
    run_dir: str | None = None
    value: float | None = None  # the monitored metric at its best epoch
    epochs: int | None = None
    message: str | None = None
    group: int | None = None  # guided search: the setting this trial repeats

    def setting(self) -> str:
        return " ".join(f"{k}={_inline(v)}" for k, v in self.overrides.items()) or "(base)"

    def set_args(self) -> list[str]:
        args = [f"{k}={_inline(v)}" for k, v in self.overrides.items()]
        return [*args, f"seed={self.seed}"]


def _inline(value: Any) -> str:
    """A value as one line of YAML (flow style), which ``--set`` reads back exactly."""
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-4].strip() if text.endswith("\n...") or text.endswith(" ...") else text


# --------------------------------------------------------------------------- parsing axes


def split_values(text: str) -> list[str]:
    """Split ``a,b,[1,2]`` on the commas outside brackets and quotes."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts]


def parse_grid_axis(text: str) -> tuple[str, list[Any]]:
    """``train.optimizer=sgd,adam`` -> ("train.optimizer", ["sgd", "adam"])."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise ConfigError(f"--grid {text!r}: expected KEY=VALUE,VALUE,...")
    return key.strip(), [parse_yaml(part, f"--grid {key}") for part in split_values(values)]


def parse_distribution(text: str) -> tuple[str, dict[str, list[Any]]]:
    """``train.optimizer.learning_rate=loguniform(1e-4,1e-1)`` -> key, {loguniform: [..]}."""
    key, sep, spec = text.partition("=")
    spec = spec.strip()
    kind, paren, rest = spec.partition("(")
    if not sep or not paren or not rest.endswith(")"):
        raise ConfigError(
            f"--random {text!r}: expected KEY=KIND(ARGS), e.g. model.units=int(16,256) or "
            "train.optimizer.learning_rate=loguniform(1e-4,1e-1)"
        )
    args = [parse_yaml(part, f"--random {key}") for part in split_values(rest[:-1])]
    return key.strip(), {kind.strip(): args}


def merged_sweep(
    config: Config,
    grid: Iterable[str] = (),
    random: Iterable[str] = (),
    search: str | None = None,
    trials: int | None = None,
    repeats: int | None = None,
    workers: int | None = None,
) -> SweepConfig:
    """The config's ``sweep:`` section with the command line's axes added on top."""
    data = config.sweep.model_dump() if config.sweep is not None else {}
    data.setdefault("grid", {})
    data.setdefault("space", {})
    data["grid"].update(dict(parse_grid_axis(text) for text in grid))
    data["space"].update(dict(parse_distribution(text) for text in random))
    if data["space"] and search is None and data.get("search", "grid") == "grid":
        search = "random"
    for key, value in (
        ("search", search),
        ("trials", trials),
        ("repeats", repeats),
        ("workers", workers),
    ):
        if value is not None:
            data[key] = value
    try:
        return SweepConfig.model_validate(data)
    except Exception as exc:  # pydantic ValidationError, reported like any config error
        from pydantic import ValidationError

        from dnn_lab.config.messages import format_validation_error

        if isinstance(exc, ValidationError):
            raise ConfigError(format_validation_error(exc, "sweep")) from None
        raise


# --------------------------------------------------------------------------- planning


def grid_trials(sweep: SweepConfig, base_seed: int) -> list[Trial]:
    """Every combination of the axes, each repeated with seeds base, base+1, ..."""
    keys = list(sweep.grid)
    combos = list(itertools.product(*(sweep.grid[k] for k in keys))) or [()]
    trials = []
    for combo in combos:
        for repeat in range(sweep.repeats):
            trials.append(
                Trial(len(trials), dict(zip(keys, combo, strict=True)), base_seed + repeat)
            )
    return trials


def random_trials(sweep: SweepConfig, base_seed: int) -> list[Trial]:
    """``trials`` settings drawn from the space (grid axes count as choices), seeded."""
    import numpy as np

    rng = np.random.default_rng(base_seed)
    space = {**{k: {"choice": v} for k, v in sweep.grid.items()}, **sweep.space}
    trials = []
    for _ in range(sweep.trials or 1):
        setting = {key: draw(rng, spec) for key, spec in space.items()}
        for repeat in range(sweep.repeats):
            trials.append(Trial(len(trials), dict(setting), base_seed + repeat))
    return trials


def draw(rng, spec: dict[str, list[Any]]) -> Any:
    ((kind, args),) = spec.items()
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    if kind == "int":
        return int(rng.integers(args[0], args[1] + 1))
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    return float(rng.uniform(args[0], args[1]))


def check_trials(base: dict[str, Any], trials: list[Trial], sweep: SweepConfig) -> None:
    """Validate every trial's config before any of them runs: a bad axis fails at once."""
    samples = list(trials)
    if sweep.search == "optuna":  # settings come later; check the ends of every range
        space = {**{k: {"choice": v} for k, v in sweep.grid.items()}, **sweep.space}
        for bound in (0, -1):
            setting = {
                k: (spec.get("choice") or next(iter(spec.values())))[bound]
                for k, spec in space.items()
            }
            samples.append(Trial(-1, setting, 0))
    seen: set[str] = set()
    for trial in samples:
        if trial.setting() in seen:
            continue
        seen.add(trial.setting())
        try:
            validate_config(apply_overrides(json.loads(json.dumps(base)), trial.set_args()))
        except ConfigError as exc:
            raise ConfigError(f"sweep setting {trial.setting()}: {exc}") from None


# --------------------------------------------------------------------------- the sweep file


@dataclass
class SweepState:
    """Everything in ``sweep.json``; saved after every change of a trial."""

    folder: Path
    name: str
    search: str
    grid: dict[str, list[Any]]
    space: dict[str, dict[str, list[Any]]]
    repeats: int
    planned: int  # settings x repeats
    seed: int
    monitor: str | None = None
    direction: str | None = None  # max or min
    status: str = runs.RUNNING
    created: str = field(
        default_factory=lambda: datetime.now().astimezone().isoformat(timespec="seconds")
    )
    prune: bool = True
    trials: list[Trial] = field(default_factory=list)

    def save(self) -> None:
        payload = {k: v for k, v in asdict(self).items() if k not in ("folder", "trials")}
        payload["base_config"] = BASE_FILE
        payload["trials"] = [asdict(t) for t in self.trials]
        runs.write_json(self.folder / SWEEP_FILE, payload)

    @classmethod
    def load(cls, folder: Path) -> SweepState:
        path = Path(folder) / SWEEP_FILE
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DnnLabError(f"{folder} is not a sweep folder (no {SWEEP_FILE})") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise DnnLabError(f"{path} is unreadable: {exc}") from None
        trials = [Trial(**t) for t in payload.pop("trials", [])]
        payload.pop("base_config", None)
        return cls(folder=Path(folder), trials=trials, **payload)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for trial in self.trials:
            found[trial.status] = found.get(trial.status, 0) + 1
        return found

    def best(self) -> Trial | None:
        scored = [t for t in self.trials if t.value is not None and math.isfinite(t.value)]
        if not scored:
            return None
        pick = max if self.direction == "max" else min
        return pick(scored, key=lambda t: t.value)


def create_sweep(config: Config, sweep: SweepConfig, runs_dir: Path) -> SweepState:
    """Make the sweep folder, its base config and its trial plan."""
    from dnn_lab.data.prepare import task_of
    from dnn_lab.training.head import resolve_head

    base = config.model_copy(update={"sweep": None})
    if sweep.search == "grid":
        trials = grid_trials(sweep, config.seed)
    elif sweep.search == "random":
        trials = random_trials(sweep, config.seed)
    else:
        trials = []
    check_trials(base.to_dict(), trials, sweep)
    task, n_classes = task_of(base.data, base.seed)
    head = resolve_head(base, task, n_classes)
    folder = runs.create_run_dir(runs_dir, f"{config.name}-sweep")
    runs.atomic_write_text(folder / BASE_FILE, base.to_yaml())
    planned = len(trials) if trials else (sweep.trials or 0) * sweep.repeats
    state = SweepState(
        folder,
        config.name,
        sweep.search,
        sweep.grid,
        sweep.space,
        sweep.repeats,
        planned,
        config.seed,
        head.monitor,
        head.mode,
        prune=sweep.prune,
        trials=trials,
    )
    state.save()
    return state


def plan_only(config: Config, sweep: SweepConfig) -> list[Trial]:
    """The trials a sweep would run, for ``--dry-run``; validates them all."""
    base = config.model_copy(update={"sweep": None})
    trials = (
        grid_trials(sweep, config.seed)
        if sweep.search == "grid"
        else (random_trials(sweep, config.seed) if sweep.search == "random" else [])
    )
    check_trials(base.to_dict(), trials, sweep)
    return trials


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


@dataclass
class _Running:
    trial: Trial
    process: subprocess.Popen
    slot: int
    log: Any
    optuna_trial: Any = None
    reported: int = 0


class SweepRunner:
    """Runs a sweep's pending trials, ``workers`` at a time, until done or interrupted."""

    def __init__(
        self,
        state: SweepState,
        workers: int,
        on_change: Callable[[], None] = lambda: None,
        search=None,
    ):
        self.state = state
        self.workers = max(1, workers)
        self.on_change = on_change
        self.search = search  # an OptunaSearch, or None for a fixed plan
        self.running: list[_Running] = []
        self.stop_signal: int | None = None
        self.gpu_slots = default_workers() if _has_gpus() else 0

    def queue(self) -> list[Trial]:
        return [t for t in self.state.trials if t.status not in FINISHED]

    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for trial in self.queue():
                trial.status, trial.message = PENDING, None
            self.state.status = runs.RUNNING
            self.state.save()
            while True:
                self._reap()
                if self.stop_signal is None:
                    self._launch()
                if not self.running and (self.stop_signal is not None or not self._more()):
                    break
                self._watch()
                time.sleep(0.2)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
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

    def _more(self) -> bool:
        if any(t.status == PENDING for t in self.state.trials):
            return True
        return self.search is not None and self.search.wants_more(self.state)

    def _launch(self) -> None:
        while len(self.running) < self.workers:
            trial = next((t for t in self.state.trials if t.status == PENDING), None)
            optuna_trial = None
            if trial is None and self.search is not None and self.search.wants_more(self.state):
                trial, optuna_trial = self.search.ask(self.state)
            if trial is None:
                return
            used = {r.slot for r in self.running}
            slot = next(i for i in range(self.workers) if i not in used)
            if optuna_trial is None and self.search is not None:
                optuna_trial = self.search.handle(trial)
            self.running.append(self._start(trial, slot, optuna_trial))
            self.state.save()
            self.on_change()

    def _start(self, trial: Trial, slot: int, optuna_trial=None) -> _Running:
        folder = self.state.folder
        command = [
            sys.executable,
            "-m",
            "dnn_lab",
            "train",
            str(folder / BASE_FILE),
            "--runs-dir",
            str(folder),
            "--name",
            f"{self.state.name}-{trial.index:03d}",
        ]
        for arg in trial.set_args():
            command += ["--set", arg]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.gpu_slots:
            env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpu_slots)
        logs = folder / "logs"
        logs.mkdir(exist_ok=True)
        log = open(logs / f"trial-{trial.index:03d}.log", "w", encoding="utf-8")  # noqa: SIM115
        # its own process group: Ctrl-C reaches the sweep, which then stops each trial cleanly
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        trial.status, trial.run_dir, trial.value, trial.message = runs.RUNNING, None, None, None
        return _Running(trial, process, slot, log, optuna_trial)

    def _find_run_dir(self, item: _Running) -> Path | None:
        if item.trial.run_dir:
            return Path(item.trial.run_dir)
        for path in self.state.folder.iterdir():
            if not path.is_dir():
                continue
            try:
                info = json.loads((path / runs.RUN_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if info.get("pid") == item.process.pid and info.get("name", "").endswith(
                f"-{item.trial.index:03d}"
            ):
                item.trial.run_dir = str(path)
                self.state.save()  # readers of sweep.json can follow the trial from now on
                return path
        return None

    def _watch(self) -> None:
        """Report epochs to the search (which may prune) and refresh the live view."""
        for item in self.running:
            path = self._find_run_dir(item)
            if path is None:
                continue
            rows = runs.read_history(path / runs.HISTORY_FILE)
            item.trial.epochs = len(rows)
            if item.optuna_trial is not None and len(rows) > item.reported:
                for row in rows[item.reported :]:
                    value = row.get(self.state.monitor)
                    if isinstance(value, (int, float)) and self.search.report(
                        item.optuna_trial, value, int(row["epoch"])
                    ):
                        item.trial.status = PRUNED
                        item.process.send_signal(signal.SIGTERM)
                        break
                item.reported = len(rows)
        self.on_change()

    def _reap(self) -> None:
        for item in list(self.running):
            code = item.process.poll()
            if code is None:
                continue
            item.log.close()
            self.running.remove(item)
            trial = item.trial
            path = self._find_run_dir(item)
            run = runs.read_run(path) if path is not None else None
            pruned = trial.status == PRUNED
            trial.status = _status_for(code, run)
            if pruned:
                trial.status = PRUNED
            if run is not None:
                trial.epochs = run.epochs_run
                best = (run.metrics.get("best") or {}).get(self.state.monitor)
                if best is None and run.history:
                    values = [
                        r.get(self.state.monitor)
                        for r in run.history
                        if isinstance(r.get(self.state.monitor), (int, float))
                    ]
                    if values:
                        best = max(values) if self.state.direction == "max" else min(values)
                trial.value = best
                trial.message = run.info.get("message")
            if trial.status in (runs.FAILED,) and not trial.message:
                trial.message = _last_lines(
                    self.state.folder / "logs" / f"trial-{trial.index:03d}.log"
                )
            if self.search is not None and item.optuna_trial is not None:
                self.search.tell(item.optuna_trial, trial, self.state)
            self.state.save()
            self.on_change()

    def _on_signal(self, signum, frame) -> None:
        if self.stop_signal is not None:  # second Ctrl-C: stop the trials at once
            for item in self.running:
                item.process.kill()
            return
        self.stop_signal = signum
        for item in self.running:
            item.process.send_signal(signal.SIGTERM)  # each stops after its current batch


def _has_gpus() -> bool:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1") or bool(
        shutil.which("nvidia-smi")
    )


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
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-count:])


# --------------------------------------------------------------------------- entry points


def sweep_config_of(state: SweepState) -> SweepConfig:
    settings = state.planned // max(1, state.repeats)
    return SweepConfig.model_validate(
        {
            "grid": state.grid,
            "space": state.space,
            "search": state.search,
            "trials": settings if state.search != "grid" else None,
            "repeats": state.repeats,
            "prune": state.prune,
        }
    )


def run_sweep(state: SweepState, sweep: SweepConfig, workers: int | None, view) -> int:
    """Run (or continue) a sweep with a live view; returns the exit code."""
    search = None
    if state.search == "optuna":
        from dnn_lab.sweep.optuna_search import OptunaSearch

        search = OptunaSearch(state, sweep)
    runner = SweepRunner(state, workers or sweep.workers or default_workers(), search=search)
    runner.on_change = lambda: view.update(state, runner)
    view.start(state, runner)
    try:
        return runner.run()
    finally:
        view.stop(state)
