"""What ``run.json`` and ``metrics.json`` hold, as typed records. No Keras.

``from_json`` checks every known field's type and never raises: a value of the wrong
type is dropped and named in ``problems`` (the run then reads as damaged, with the
reason). ``to_json`` gives back the on-disk format: the same keys in the same order,
unknown extra keys kept. The field names are the keys ``training/trainer.py`` writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

_NUMBER = (int, float)


def _number_map(value: Any) -> bool:
    """``{"val_loss": 0.3, ...}``: metric names to numbers (None where NaN was written)."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and (v is None or (isinstance(v, _NUMBER) and not isinstance(v, bool)))
        for k, v in value.items()
    )


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


# a check per kind of field, and the words a problem uses for it
_CHECKS = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "int": (_is_int, "an integer"),
    "number": (_is_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "strings": (_string_list, "a list of strings"),
    "numbers": (_number_map, "an object of numbers"),
}


def _kind_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false"}.get(
        type(value), type(value).__name__
    )


class _Record:
    """Shared from_json/to_json for the records below (each a keyword-only dataclass)."""

    FILE: ClassVar[str]
    KINDS: ClassVar[dict[str, str]]  # field -> kind in _CHECKS
    ALWAYS: ClassVar[frozenset[str]] = frozenset()  # written even when None (as null)

    @classmethod
    def from_json(cls, data: Any):
        """A record from parsed JSON; never raises. Wrong types become ``problems``."""
        problems: list[str] = []
        if not isinstance(data, dict):
            problems.append(f"{cls.FILE} does not hold an object")
            data = {}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            kind = cls.KINDS.get(key)
            if kind is None:
                extra[key] = value
            elif value is not None:
                check, words = _CHECKS[kind]
                if check(value):
                    values[key] = value
                else:
                    problems.append(
                        f"{cls.FILE}: {key} should be {words}; received {_kind_name(value)}"
                    )
        return cls(**values, extra=extra, problems=problems)

    def to_json(self) -> dict[str, Any]:
        """The on-disk format: known fields in their order (None ones left out), then extras."""
        out = {}
        for key in self.KINDS:
            value = getattr(self, key)
            if value is not None or key in self.ALWAYS:
                out[key] = value
        out.update(self.extra)
        return out


@dataclass(kw_only=True)
class RunRecord(_Record):
    """``run.json``: who ran what, where, and how it ended."""

    FILE: ClassVar[str] = "run.json"

    status: str | None = None
    name: str | None = None
    started: str | None = None  # ISO 8601 with the UTC offset
    command: list[str] | None = None
    cwd: str | None = None
    config_path: str | None = None
    seed: int | None = None
    backend: str | None = None
    device: dict[str, Any] | None = None  # kind, name, memory...
    versions: dict[str, Any] | None = None
    git: dict[str, Any] | None = None  # commit, config_modified
    data: dict[str, Any] | None = None  # dataset, task, sizes, scaling...
    optimizer: dict[str, Any] | None = None  # class, clipping, config
    execution: dict[str, Any] | None = None
    config: dict[str, Any] | None = None  # the resolved config
    host: str | None = None
    pid: int | None = None
    pid_started: int | None = None  # the process's start, in clock ticks since boot (Linux)
    node: str | None = None  # where a cluster ran it (optional)
    init_from: dict[str, Any] | None = None  # run, copied, trainable
    params: dict[str, Any] | None = None  # total, trainable, non_trainable
    diverged: dict[str, Any] | None = None  # epoch, batch, loss
    interrupted_by: str | None = None  # SIGINT, SIGTERM
    error: dict[str, Any] | None = None  # type, message, traceback
    warnings: list[str] | None = None
    ended: str | None = None
    message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know
    problems: list[str] = field(default_factory=list, compare=False)

    def warn(self, message: str) -> None:
        """Note something the run could not do (draw its curves, say) without failing it."""
        self.warnings = [*(self.warnings or []), message]

    KINDS: ClassVar[dict[str, str]] = {
        "status": "str",
        "name": "str",
        "started": "str",
        "command": "strings",
        "cwd": "str",
        "config_path": "str",
        "seed": "int",
        "backend": "str",
        "device": "object",
        "versions": "object",
        "git": "object",
        "data": "object",
        "optimizer": "object",
        "execution": "object",
        "config": "object",
        "host": "str",
        "pid": "int",
        "pid_started": "int",
        "node": "str",
        "init_from": "object",
        "params": "object",
        "diverged": "object",
        "interrupted_by": "str",
        "error": "object",
        "warnings": "strings",
        "ended": "str",
        "message": "str",
    }
    # what the trainer writes from the start, null or not
    ALWAYS: ClassVar[frozenset[str]] = frozenset(
        {
            "status",
            "name",
            "started",
            "command",
            "cwd",
            "config_path",
            "seed",
            "backend",
            "device",
            "versions",
            "git",
            "data",
            "optimizer",
            "execution",
            "config",
            "host",
            "pid",
        }
    )

    @property
    def dataset(self) -> str | None:
        name = (self.data or {}).get("dataset")
        return name if isinstance(name, str) else None

    @property
    def totals(self) -> dict[str, int]:
        """Parameter counts (total, trainable, non_trainable) that are integers."""
        return {k: v for k, v in (self.params or {}).items() if _is_int(v)}


@dataclass(kw_only=True)
class MetricsRecord(_Record):
    """``metrics.json``: the best and final epoch, the test set, MC dropout, the time taken."""

    FILE: ClassVar[str] = "metrics.json"

    epochs_run: int | None = None
    final: dict[str, float | None] | None = None  # the last epoch's values
    monitor: str | None = None  # the metric that picks the best epoch
    best_epoch: int | None = None
    best: dict[str, float | None] | None = None  # the best epoch's values
    seconds_per_epoch: float | None = None
    first_epoch_seconds: float | None = None
    early_stopped: bool | None = None
    kept_epoch: int | None = None
    test: dict[str, float | None] | None = None
    mc_dropout: dict[str, Any] | None = None  # samples, split, accuracy, plain...
    wall_seconds: float | None = None
    timing: dict[str, float | None] | None = None  # seconds per phase, process start to end
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list, compare=False)

    KINDS: ClassVar[dict[str, str]] = {
        "epochs_run": "int",
        "final": "numbers",
        "monitor": "str",
        "best_epoch": "int",
        "best": "numbers",
        "seconds_per_epoch": "number",
        "first_epoch_seconds": "number",
        "early_stopped": "bool",
        "kept_epoch": "int",
        "test": "numbers",
        "mc_dropout": "object",
        "wall_seconds": "number",
        "timing": "numbers",
    }

    def best_value(self, metric: str | None) -> float | None:
        """The best epoch's value of ``metric``, when it is a finite number."""
        value = (self.best or {}).get(metric) if metric else None
        return float(value) if _is_number(value) and math.isfinite(value) else None
