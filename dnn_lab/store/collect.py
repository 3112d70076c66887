"""Finding runs and reading their configs as flat dotted keys.

``compare``, ``runs`` and the seed statistics all start here: paths become runs (a folder
of runs expands to them), and nested configs become ``train.epochs``-style keys. No Keras.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dnn_lab.store import files, runs
from dnn_lab.store.status import Status


def collect(paths: Iterable[Path]) -> tuple[list[runs.Run], list[Path]]:
    """Runs named directly, or the runs inside a folder (a sweep, a runs directory)."""
    found: list[runs.Run] = []
    skipped: list[Path] = []
    seen: set[str] = set()
    for path in map(Path, paths):
        run = runs.try_read_run(path)
        if run is not None:
            batch = [run]
        elif path.is_dir():
            batch = [r for r in (runs.try_read_run(path / n) for n in _folders(path)) if r]
            if not batch:
                skipped.append(path)
        else:
            skipped.append(path)
            batch = []
        for run in batch:
            key = os.path.realpath(run.path)
            if key not in seen:
                seen.add(key)
                found.append(run)
    return found, skipped


def recorded_runs(folder: Path) -> list[Path] | None:
    """The run directories ``folder``'s ``sweep.json`` records, one per trial, by name inside it.

    A sweep folder may hold more run directories than trials (a trial interrupted and run
    again keeps its first run); only these count. None when the file lists no trials (a
    sweep written by hand stands for all its runs) or is gone.

    Raises:
        FileRefused: ``sweep.json`` is not a file the gate reads (a FIFO, a device, too
            large, nested too deeply, not JSON): which runs count cannot be known.
    """
    try:
        payload = files.read_json(Path(folder) / runs.SWEEP_FILE, files.MAX_SWEEP_BYTES)
    except FileNotFoundError:
        return None
    trials = payload.get("trials") if isinstance(payload, dict) else None
    if not isinstance(trials, list) or not trials:
        return None
    # by name inside the folder: the path recorded may be relative to another directory
    return [
        Path(folder) / Path(t["run_dir"]).name
        for t in trials
        if isinstance(t, dict) and isinstance(t.get("run_dir"), str) and t["run_dir"]
    ]


def _folders(path: Path) -> list[str]:
    """The names of the folders in ``path``; symlink loops and unreadable entries left out."""
    names = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_dir():
                        names.append(entry.name)
                except OSError:
                    continue
    except OSError:
        return []
    return sorted(names)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"epochs": 5}}`` -> ``{"train.epochs": 5}``; lists stay whole values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and not is_named_spec(value):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


MISSING = object()


def config_get(config: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted key, as ``flatten`` would name it; MISSING when absent."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


# ``runs --status failed`` means every run that broke: a crashed run failed too, only
# too suddenly to write so (killed, out of memory, power lost).
STATUS_GROUPS = {Status.FAILED: frozenset({Status.FAILED, Status.CRASHED})}


def list_runs(folder: Path, status: str | None = None) -> list[dict[str, Any]]:
    """The runs in a runs directory (and in its sweep folders), newest first, one row each."""
    sweeps = [folder / name for name in _folders(folder) if runs.is_sweep_dir(folder / name)]
    found, _ = collect([folder, *sweeps])
    wanted = STATUS_GROUPS.get(status, frozenset({status})) if status is not None else None
    rows = []
    for run in found:
        if wanted is not None and run.status not in wanted:
            continue
        monitor = run.scores.monitor
        rows.append(
            {
                "run": run.name,
                "status": run.status,
                "started": run.started or "",
                "dataset": run.record.dataset or _dataset_of(run.config),
                "metric": monitor,
                "best": run.scores.best_value(monitor),
                "epochs": run.epochs_run,
                "path": str(run.path),
            }
        )
    rows.sort(key=lambda r: (r["started"], r["path"]), reverse=True)
    return rows


def _dataset_of(config: dict[str, Any]) -> str | None:
    data = config.get("data")
    name = data.get("dataset") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def is_named_spec(value: dict[str, Any]) -> bool:
    """``{name: sgd, momentum: 0.9}`` reads best as one value, like the YAML it came from."""
    return isinstance(value.get("name"), str) and all(
        not isinstance(v, (dict, list)) for v in value.values()
    )


def differing_keys(configs: list[Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values are not the same in every config (compared section-wise)."""
    first = configs[0]
    if all(c == first for c in configs[1:]):
        return []
    if all(isinstance(c, dict) and c and not is_named_spec(c) for c in configs):
        keys = sorted({k for c in configs for k in c})
        found = []
        for key in keys:
            found += differing_keys([c.get(key, MISSING) for c in configs], f"{prefix}{key}.")
        return found
    return [prefix.rstrip(".")]
