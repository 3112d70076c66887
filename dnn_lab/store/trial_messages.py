"""What a sweep's driver asks a worker to train, and what comes back: one protocol.

The same two records travel on both executors: as one JSON line each way over a
local warm worker's pipes (``to_json`` / ``from_json``), and as Ray task arguments and
results. They live in the store because both sides import it: the sweep that sends a
request (``dnn_lab.sweeps``) and the worker that trains it (``dnn_lab.training.worker``),
which may not import each other.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dnn_lab.store.status import Status


def _text(data: dict[str, Any], key: str, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string; received {type(value).__name__}")
    return value


def _texts(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key}: expected a list of strings")
    return tuple(value)


def _mapping(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object; received {type(data).__name__}")
    return data


@dataclass(frozen=True, kw_only=True)
class TrialRequest:
    """One trial, as ``dnn-lab train CONFIG --set ... --runs-dir ... --name ...`` would run it."""

    config: Path  # the base config the trial starts from (the sweep's base.yaml)
    overrides: tuple[str, ...]  # --set KEY=VALUE, the trial's setting and seed
    runs_dir: Path  # where its run directory goes
    name: str  # the run's name: <sweep>-<trial index>
    log: Path  # what the trial prints goes here
    command: tuple[str, ...]  # the equivalent command line, recorded in run.json
    # Ray: the node may not see the driver's files, so the base config travels as text,
    # and run.json names the driver's base.yaml rather than the node's temporary copy
    base_config_text: str | None = None
    driver_config: Path | None = None

    def on_node(self, scratch: Path) -> TrialRequest:
        """The request as a Ray node runs it: base config, runs and log in ``scratch``."""
        return replace(
            self,
            config=scratch / self.config.name,
            runs_dir=scratch / "runs",
            log=scratch / "trial.log",
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "config": str(self.config),
            "overrides": list(self.overrides),
            "runs_dir": str(self.runs_dir),
            "name": self.name,
            "log": str(self.log),
            "command": list(self.command),
        }
        if self.base_config_text is not None:
            out["base_config_text"] = self.base_config_text
        if self.driver_config is not None:
            out["driver_config"] = str(self.driver_config)
        return out

    @classmethod
    def from_json(cls, data: Any) -> TrialRequest:
        """Raises ValueError naming the first field that is missing or of the wrong type."""
        data = _mapping(data)
        driver_config = _text(data, "driver_config", optional=True)
        return cls(
            config=Path(_text(data, "config")),
            overrides=_texts(data, "overrides"),
            runs_dir=Path(_text(data, "runs_dir")),
            name=_text(data, "name"),
            log=Path(_text(data, "log")),
            command=_texts(data, "command"),
            base_config_text=_text(data, "base_config_text", optional=True),
            driver_config=None if driver_config is None else Path(driver_config),
        )


@dataclass(frozen=True, kw_only=True)
class TrialAnswer:
    """How a trial ended, as ``dnn-lab train`` would exit, and where its run directory is.

    A trial that never made a run directory (a config error, a signal before training)
    has no ``status`` and no ``run_dir``: its log says why. From a Ray node the run comes
    back packed (``packed_run``, tar bytes) with its log and the node's ID.
    """

    exit_code: int
    status: Status | None = None
    run_dir: Path | None = None
    packed_run: bytes | None = None  # Ray: the run directory as gzipped tar bytes
    log_bytes: bytes = b""  # Ray: what the trial printed
    node: str | None = None  # Ray: the node that trained it

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "exit_code": self.exit_code,
            "status": None if self.status is None else self.status.value,
            "run_dir": None if self.run_dir is None else str(self.run_dir),
        }
        if self.packed_run is not None:
            out["packed_run"] = base64.b64encode(self.packed_run).decode("ascii")
        if self.log_bytes:
            out["log_bytes"] = base64.b64encode(self.log_bytes).decode("ascii")
        if self.node is not None:
            out["node"] = self.node
        return out

    @classmethod
    def from_json(cls, data: Any) -> TrialAnswer:
        """Raises ValueError naming the first field that is missing or of the wrong type."""
        data = _mapping(data)
        code = data.get("exit_code")
        if not isinstance(code, int) or isinstance(code, bool):
            raise ValueError("exit_code: expected an integer")
        status, run_dir = _text(data, "status", True), _text(data, "run_dir", True)
        packed, log = _text(data, "packed_run", True), _text(data, "log_bytes", True)
        return cls(
            exit_code=code,
            status=None if status is None else Status(status),
            run_dir=None if run_dir is None else Path(run_dir),
            packed_run=None if packed is None else base64.b64decode(packed),
            log_bytes=b"" if log is None else base64.b64decode(log),
            node=_text(data, "node", True),
        )
