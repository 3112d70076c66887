"""The sweep file: trials, their statuses, and ``sweep.json`` written and read back.

A leaf of the sweep package: plans, searches, the runner and the view all read and
write a sweep through these records, and this module imports none of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from dnn_lab.direction import Direction, best_row
from dnn_lab.errors import DnnLabError
from dnn_lab.store import runs
from dnn_lab.store.collect import recorded_runs
from dnn_lab.store.status import Status

BASE_FILE = "base.yaml"  # the config every trial starts from
LOGS_DIR = "logs"  # one trial-NNN.log per trial: what its process printed

# Statuses a resumed sweep keeps; every other trial runs again.
FINISHED = frozenset(
    {Status.COMPLETED, Status.FAILED, Status.DIVERGED, Status.PRUNED, Status.PROMOTED}
)
# Trials that trained to their end (or their rung's, or until pruned): only they have a
# score; a failed or diverged trial's value is the best epoch before it broke.
SCORED = frozenset({Status.COMPLETED, Status.PRUNED, Status.PROMOTED})


def inline(value: Any) -> str:
    """A value as one line of YAML (flow style), which ``--set`` reads back exactly."""
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-4].strip() if text.endswith("\n...") or text.endswith(" ...") else text


@dataclass(kw_only=True)
class Trial:
    """One setting and one seed; ``overrides`` are dotted keys as ``--set`` takes them."""

    index: int
    overrides: dict[str, Any]
    seed: int
    status: Status = Status.PENDING
    run_dir: str | None = None  # the one run directory that counts for this trial
    value: float | None = None  # the monitored metric at its best epoch
    epochs: int | None = None
    message: str | None = None
    group: int | None = None  # guided search: the setting this trial repeats
    budget: int | None = None  # hyperband: the epochs of this trial's rung (train.epochs)

    def setting(self) -> str:
        return " ".join(f"{k}={inline(v)}" for k, v in self.overrides.items()) or "(base)"

    def set_args(self) -> list[str]:
        args = [f"{k}={inline(v)}" for k, v in self.overrides.items()]
        if self.budget is not None:
            args.append(f"train.epochs={self.budget}")
        return [*args, f"seed={self.seed}"]

    def log_path(self, folder: Path) -> Path:
        return Path(folder) / LOGS_DIR / f"trial-{self.index:03d}.log"


def _with_status(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its ``status`` as a :class:`Status` (ValueError for an unknown one)."""
    if "status" not in record:
        return record
    return {**record, "status": Status(record["status"])}


# ranks pending trials for a free worker, lowest first (see SweepState.pending)
Preference = Callable[[Trial], int]


def trial_value(run: runs.Run, monitor: str, direction: Direction) -> float | None:
    """A finished trial's score: the monitored metric at its best epoch.

    ``metrics.json`` has it when training ended normally; an interrupted or crashed run
    only has its history, whose best row gives the same number.
    """
    best = (run.scores.best or {}).get(monitor)
    if best is not None:
        return best
    row = best_row(run.history or [], monitor, direction)
    return None if row is None else row[monitor]


@dataclass(kw_only=True)
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
    direction: Direction | None = None  # on disk: "max" or "min"
    status: Status = Status.RUNNING
    created: str = field(
        default_factory=lambda: datetime.now().astimezone().isoformat(timespec="seconds")
    )
    prune: bool = True
    min_epochs: int = 1  # hyperband: the first rung
    eta: int = 3  # hyperband: 1/eta of the settings go on at each rung
    objectives: list[str] | None = None  # optuna: a multi-objective study's objectives
    trials: list[Trial] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        payload = {k: v for k, v in asdict(self).items() if k not in ("folder", "trials")}
        payload["direction"] = None if self.direction is None else self.direction.value
        payload["base_config"] = BASE_FILE
        payload["trials"] = [asdict(t) for t in self.trials]
        return payload

    @classmethod
    def from_json(cls, folder: Path, payload: dict[str, Any]) -> SweepState:
        """The state from a parsed ``sweep.json``; TypeError or ValueError if it does not fit."""
        payload = dict(payload)
        trials = [Trial(**_with_status(t)) for t in payload.pop("trials", [])]
        payload.pop("base_config", None)
        direction = payload.pop("direction", None)
        return cls(
            folder=Path(folder),
            trials=trials,
            direction=None if direction is None else Direction(direction),
            **_with_status(payload),
        )

    def save(self) -> None:
        runs.write_json(self.folder / runs.SWEEP_FILE, self.to_json())

    @classmethod
    def load(cls, folder: Path) -> SweepState:
        """``folder``'s sweep, read once by the strict reader.

        Raises:
            DnnLabError: not a sweep folder, or a ``sweep.json`` this version cannot read
                (the message names every field that is wrong).
        """
        from dnn_lab.store.sweep_file import read_sweep_file

        payload = read_sweep_file(folder)
        try:
            return cls.from_json(folder, payload)
        except (TypeError, ValueError) as exc:
            path = Path(folder) / runs.SWEEP_FILE
            raise DnnLabError(f"{path}: not a sweep file this version reads: {exc}") from None

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for trial in self.trials:
            found[trial.status] = found.get(trial.status, 0) + 1
        return found

    def pending(self, prefer: Preference | None = None) -> Trial | None:
        """The first pending trial; with ``prefer``, the first of those it ranks lowest."""
        waiting = (t for t in self.trials if t.status == Status.PENDING)
        if prefer is None:
            return next(waiting, None)
        return min(waiting, key=prefer, default=None)  # min keeps the first of equals

    def best(self) -> Trial | None:
        scored = [
            t
            for t in self.trials
            if t.status in SCORED and t.value is not None and math.isfinite(t.value)
        ]
        if not scored:
            return None
        direction = self.direction or Direction.MIN
        return min(scored, key=lambda t: direction.sort_key(t.value))


def counted_runs(paths: Iterable[Path]) -> list[Path]:
    """``paths`` with each sweep folder replaced by the runs its trials count, one per trial.

    A sweep folder may hold more run directories than trials: a trial interrupted and run
    again, or one that outlived a killed driver. Statistics over seeds count the run that
    ``sweep.json`` records for each trial and no other. A folder whose ``sweep.json``
    lists no trials (written by hand) stands for all its runs.
    """
    out: list[Path] = []
    for path in map(Path, paths):
        recorded = recorded_runs(path) if runs.is_sweep_dir(path) else None
        out.extend([path] if recorded is None else recorded)
    return out
