"""What an export covers: the runs named, sweeps with their trials, folders of both.

Shared by the MLflow and TensorBoard exports; reads run directories only through
``dnn_lab.store.runs`` and ``collect.collect``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dnn_lab.store import runs
from dnn_lab.store.collect import collect


def gather(paths: Sequence[Path]) -> tuple[list[tuple[Path | None, list[runs.Run]]], list[Path]]:
    """Groups of (sweep folder or None, its runs), each run once, and the paths that hold none.

    A path is a run directory, a sweep folder, or a folder of runs and sweeps (runs/).
    """
    groups: list[tuple[Path | None, list[runs.Run]]] = []
    skipped: list[Path] = []
    seen: set[str] = set()

    def take(found: list[runs.Run]) -> list[runs.Run]:
        fresh = [run for run in found if os.path.realpath(run.path) not in seen]
        seen.update(os.path.realpath(run.path) for run in fresh)
        return fresh

    for path in map(Path, paths):
        if runs.is_sweep_dir(path):
            groups.append((path, take(collect([path])[0])))
            continue
        found, missed = collect([path])  # a run directory, or the runs in a folder
        if found and runs.is_sweep_dir(path.parent) and Path(found[0].path) == path:
            groups.append((path.parent, take(found)))  # one trial: still under its sweep
            continue
        sweeps = []
        if path.is_dir() and runs.try_read_run(path) is None:  # runs/ may hold sweeps too
            sweeps = sorted(p for p in path.iterdir() if p.is_dir() and runs.is_sweep_dir(p))
        for sweep in sweeps:
            groups.append((sweep, take(collect([sweep])[0])))
        if found:
            groups.append((None, take(found)))
        elif not sweeps:
            skipped += missed
    return [(sweep, members) for sweep, members in groups if sweep or members], skipped
