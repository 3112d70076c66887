"""Finding runs and reading their configs as flat dotted keys.

``compare``, ``runs`` and the seed statistics all start here: paths become runs (a folder
of runs expands to them), and nested configs become ``train.epochs``-style keys. No Keras.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dnn_lab.results import rundir as runs
from dnn_lab.results.formatting import is_named_spec


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


def list_runs(folder: Path, status: str | None = None) -> list[dict[str, Any]]:
    """The runs in a runs directory (and in its sweep folders), newest first, one row each."""
    sweeps = [folder / name for name in _folders(folder) if runs.is_sweep_dir(folder / name)]
    found, _ = collect([folder, *sweeps])
    rows = []
    for run in found:
        if status is not None and run.status != status:
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
