"""What an export covers: the runs named, sweeps with their trials, folders of both.

Shared by the MLflow and TensorBoard exports; reads run directories only through
``dnn_lab.store`` (``runs``, ``collect``). A sweep contributes the runs its ``sweep.json``
records, one per trial: a trial interrupted and run again by ``--resume`` leaves its first
run directory behind, and that run is no longer one of the sweep's trials.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dnn_lab.store import runs
from dnn_lab.store.collect import collect, recorded_runs


@dataclass(kw_only=True)
class Group:
    """Runs exported together: a sweep's trials (``sweep`` set) or runs on their own."""

    sweep: Path | None
    runs: list[runs.Run]
    whole: bool = False  # every trial of the sweep is here (the sweep folder was named)


def sweep_members(folder: Path) -> list[runs.Run]:
    """The runs a sweep's trials recorded; all runs in the folder when it records none."""
    recorded = recorded_runs(folder)
    return collect([folder] if recorded is None else recorded)[0]


def gather(paths: Sequence[Path]) -> tuple[list[Group], list[Path]]:
    """Groups of runs, each run once, and the paths that hold none.

    A path is a run directory, a sweep folder, or a folder of runs and sweeps (runs/).
    """
    groups: list[Group] = []
    skipped: list[Path] = []
    seen: set[str] = set()

    def take(found: list[runs.Run]) -> list[runs.Run]:
        fresh = [run for run in found if os.path.realpath(run.path) not in seen]
        seen.update(os.path.realpath(run.path) for run in fresh)
        return fresh

    for path in map(Path, paths):
        if runs.is_sweep_dir(path):
            groups.append(Group(sweep=path, runs=take(sweep_members(path)), whole=True))
            continue
        found, missed = collect([path])  # a run directory, or the runs in a folder
        if found and runs.is_sweep_dir(path.parent) and Path(found[0].path) == path:
            groups.append(Group(sweep=path.parent, runs=take(found)))  # one trial
            continue
        sweeps = []
        if path.is_dir() and runs.try_read_run(path) is None:  # runs/ may hold sweeps too
            sweeps = sorted(p for p in path.iterdir() if p.is_dir() and runs.is_sweep_dir(p))
        for sweep in sweeps:
            groups.append(Group(sweep=sweep, runs=take(sweep_members(sweep)), whole=True))
        if found:
            groups.append(Group(sweep=None, runs=take(found)))
        elif not sweeps:
            skipped += missed
    return [group for group in groups if group.sweep or group.runs], skipped
