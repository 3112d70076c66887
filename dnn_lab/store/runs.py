"""The run-directory format: file names, atomic writes, and reading runs back.

Writers (training) and readers (``compare``, ``show``, ``runs``) share the
names below, so the format lives in one place. Nothing here imports Keras.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dnn_lab.errors import RunDirError
from dnn_lab.store import files
from dnn_lab.store.files import atomic_write_bytes, atomic_write_text  # noqa: F401 (the run format's writers)
from dnn_lab.store.records import MetricsRecord, RunRecord
from dnn_lab.store.status import Status

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.txt"
PARAMS_FILE = "params.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
CURVES_FILE = "curves.png"
BEST_WEIGHTS_FILE = "best.weights.h5"
TENSORBOARD_DIR = "tensorboard"
NATIVE_LOG_FILE = "native.log"  # what TensorFlow's C++ side printed
SWEEP_FILE = "sweep.json"  # marks a sweep folder (see dnn_lab.sweeps.runner)
DIAGNOSTICS_FILE = "diagnostics.csv"  # epoch,layer,metric,value (train.diagnostics)

_TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"


_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


# --------------------------------------------------------------------------- writing


def write_json(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(json_safe(payload), indent=2, sort_keys=False) + "\n")


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity; write them as null so every reader can parse the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def history_columns(keys: list[str]) -> list[str]:
    """epoch, loss, train metrics, val_loss, val metrics, then lr, seconds and the rest."""

    def rank(key: str) -> tuple[int, str]:
        if key == "epoch":
            return (0, "")
        if key == "loss":
            return (1, "")
        if key == "val_loss":
            return (3, "")
        if key.startswith("val_"):
            return (4, key)
        if key in ("lr", "seconds"):
            return (5, "0" if key == "lr" else "1")
        return (2, key)

    return sorted(dict.fromkeys(keys), key=rank)


def history_to_csv(rows: list[dict[str, Any]]) -> str:
    """One row per epoch, in the column order of ``history_columns``."""
    columns = history_columns([key for row in rows for key in row])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_value(row.get(k)) for k in columns})
    return buffer.getvalue()


def csv_value(value: Any) -> Any:
    """One CSV cell: floats exact (shortest round-trip form), lists and mappings as JSON,
    None empty."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(json_safe(value))
    return "" if value is None else value


def sanitize_name(name: str) -> str:
    """A run name that stays inside the runs directory: no separators, no leading dots."""
    cleaned = _NAME_CHARS.sub("-", name).strip("-.")
    return cleaned[:80] or "run"


def create_run_dir(runs_dir: Path, name: str, now: datetime | None = None) -> Path:
    """Create ``runs_dir/<YYYYmmdd-HHMMSS>-<name>`` and return it.

    ``mkdir`` without ``exist_ok`` is atomic, so two processes starting in the
    same second each get their own directory: the loser takes a ``-2``, ``-3``...
    suffix. An existing run is never reused.
    """
    runs_dir = Path(runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create the runs directory {runs_dir}: {exc.strerror}") from exc
    stamp = (now or datetime.now()).strftime(_TIMESTAMP_FORMAT)
    base = f"{stamp}-{sanitize_name(name)}"
    for attempt in range(1, 10_000):
        candidate = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunDirError(
                f"cannot create a run directory in {runs_dir}: {exc.strerror}"
            ) from exc
        return candidate
    raise RunDirError(f"too many runs named {base!r} in {runs_dir}")


def host_identity() -> dict[str, Any]:
    """Who is writing this run, so a reader can tell a live run from a dead one.

    ``pid_started`` tells this process from a later one that the system gave its pid.
    """
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_started": process_start_ticks(os.getpid()),
    }


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux's /proc/PID/stat,
    field 22); None where the system does not say, or no such process is running."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # the name may hold spaces
        return int(fields[19])
    except (OSError, ValueError, IndexError, OverflowError):
        return None


# --------------------------------------------------------------------------- reading


@dataclass
class Run:
    """What could be read of one run directory; missing or broken parts become ``problems``.

    Only ``run.json`` and ``metrics.json`` are read up front; the config, the
    parameter table and the history are read when first asked for, so listing
    a thousand runs stays fast.
    """

    path: Path
    record: RunRecord = field(default_factory=RunRecord)  # run.json
    scores: MetricsRecord = field(default_factory=MetricsRecord)  # metrics.json
    problems: list[str] = field(default_factory=list)
    damaged: bool = False  # run.json or metrics.json is unreadable or of the wrong shape
    _config: dict[str, Any] | None = None
    _params: dict[str, Any] | None = None
    _history: list[dict[str, Any]] | None = None

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            # run.json repeats the resolved config as JSON: no YAML parser on the hot path
            if self.record.config is not None:
                self._config = self.record.config
            else:
                self._config = _read_yaml(self.path / CONFIG_FILE, self.problems) or {}
        return self._config

    @property
    def params(self) -> dict[str, Any]:
        if self._params is None:
            self._params = _read_json(self.path / PARAMS_FILE, self.problems, required=False) or {}
        return self._params

    @property
    def history(self) -> list[dict[str, Any]]:
        if self._history is None:
            self._history = read_history(self.path / HISTORY_FILE, self.problems)
        return self._history

    @property
    def name(self) -> str:
        name = self.record.name or self.config.get("name")
        return name if isinstance(name, str) and name else self.path.name

    @property
    def status(self) -> str:
        written = self.record.status
        if self.damaged or (written is None and self.problems):
            return Status.DAMAGED
        if written is None:
            return Status.RUNNING  # run.json not written yet
        record = self.record
        if written == Status.RUNNING and _process_is_gone(
            record.host, record.pid, record.pid_started
        ):
            return Status.CRASHED
        return written

    @property
    def started(self) -> str | None:
        return self.record.started

    @property
    def epochs_run(self) -> int:
        if self.status != Status.RUNNING and self.scores.epochs_run is not None:
            return self.scores.epochs_run
        return len(self.history)

    @property
    def totals(self) -> dict[str, Any]:
        if self.record.params is not None:
            return self.record.totals
        totals = self.params.get("totals")
        return totals if isinstance(totals, dict) else {}


def is_run_dir(path: Path) -> bool:
    path = Path(path)
    try:
        return path.is_dir() and any((path / name).exists() for name in _RUN_MARKERS)
    except OSError:  # unreadable: not a run this user can see
        return False


_RUN_MARKERS = (RUN_FILE, CONFIG_FILE, HISTORY_FILE)


def is_sweep_dir(path: Path) -> bool:
    try:
        return (Path(path) / SWEEP_FILE).is_file()
    except OSError:
        return False


def try_read_run(path: Path) -> Run | None:
    """``read_run`` for a path that may not be a run directory at all (then None)."""
    run = read_run(path)
    if run.record == RunRecord() and not is_run_dir(path):  # checked when run.json gave nothing
        return None
    return run


def read_run(path: Path) -> Run:
    """Read a run directory without ever raising on its contents."""
    path = Path(path)
    run = Run(path=path)
    info = _read_json(path / RUN_FILE, run.problems)
    if info is not None:
        run.record = RunRecord.from_json(info)
    metrics = _read_json(path / METRICS_FILE, run.problems, required=False)
    if metrics is not None:
        run.scores = MetricsRecord.from_json(metrics)
    run.problems += [*run.record.problems, *run.scores.problems]
    run.damaged = bool(run.problems)  # what the status rests on is missing or broken
    return run


def read_history(path: Path, problems: list[str] | None = None) -> list[dict[str, float]]:
    problems = problems if problems is not None else []
    try:
        text = files.read_text(path, files.MAX_HISTORY_BYTES)
    except FileNotFoundError:
        return []
    except files.FileRefused as exc:
        problems.append(_problem(path, exc))
        return []
    rows = []
    reader = csv.DictReader(io.StringIO(text))
    try:
        for row in reader:
            rows.append({k: _parse_cell(v) for k, v in row.items() if isinstance(k, str)})
    except (ValueError, csv.Error):  # a bad number, a field over the csv limit, a NUL
        problems.append(f"{Path(path).name}: unreadable line {reader.line_num}")
    return rows


def _parse_cell(value: str | list | None) -> float | int | None:
    if not isinstance(value, str) or value == "":  # None: a short line; list: a long one
        return None
    number = float(value)
    return int(number) if number.is_integer() and "." not in value and "e" not in value else number


def _problem(path: Path, exc: Exception) -> str:
    """A gate's refusal as a run's problem: the file's name, then why (without its path)."""
    return f"{Path(path).name} is unreadable: {str(exc).removeprefix(str(path)).lstrip(': ')}"


# the size limit of each JSON file of a run
_JSON_LIMITS = {
    RUN_FILE: files.MAX_RUN_BYTES,
    METRICS_FILE: files.MAX_METRICS_BYTES,
    PARAMS_FILE: files.MAX_PARAMS_BYTES,
}


def _read_json(path: Path, problems: list[str], required: bool = True) -> dict | None:
    try:
        data = files.read_json(path, _JSON_LIMITS.get(Path(path).name, files.MAX_TEXT_BYTES))
    except FileNotFoundError:
        if required:
            problems.append(f"{Path(path).name} is missing")
        return None
    except files.FileRefused as exc:
        problems.append(_problem(path, exc))
        return None
    if not isinstance(data, dict):
        problems.append(f"{Path(path).name} does not hold an object")
        return None
    return data


def _read_yaml(path: Path, problems: list[str]) -> dict | None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = files.read_text(path, files.MAX_CONFIG_BYTES)
        data = yaml.load(text, Loader=loader)  # noqa: S506 (safe)
        # as JSON would hold it: string keys, no dates or sets, so readers meet one shape
        data = json.loads(json.dumps(data, default=str, skipkeys=True))
    except FileNotFoundError:
        problems.append(f"{path.name} is missing")
        return None
    except files.FileRefused as exc:
        problems.append(_problem(path, exc))
        return None
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        problems.append(f"{path.name} is unreadable: {type(exc).__name__}")
        return None
    if not isinstance(data, dict) or files.depth(data) > files.MAX_JSON_DEPTH:
        return None
    return data


def _process_is_gone(host: str | None, pid: int | None, started: int | None = None) -> bool:
    """Only decidable on the machine that ran it; a pid no process can have is gone, and so
    is one that a later process took over (it started at another time than the run's)."""
    if host != socket.gethostname() or pid is None:
        return False
    if pid <= 0:
        return True  # 0 and negative pids name process groups, never a run
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return True
    except (PermissionError, OSError):
        pass  # someone else's process: alive, though perhaps not the run's
    if started is None:
        return False  # a run written before start times were recorded, or not on Linux
    now = process_start_ticks(pid)
    return now is not None and now != started
