"""Finding runs and reading their configs as flat dotted keys.

``compare``, ``runs`` and the seed statistics all start here: paths become runs (a folder
of runs expands to them), and nested configs become ``train.epochs``-style keys. No Keras.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dnn_lab.errors import DnnLabError
from dnn_lab.store import files, index, runs
from dnn_lab.store.status import Status


def collect(paths: Iterable[Path]) -> tuple[list[runs.Run], list[Path]]:
    """Runs named directly, or the runs inside a folder (a sweep, a runs directory)."""
    return _gather(paths, _read_all)


def collect_compared(paths: Iterable[Path]) -> tuple[list[runs.Run | dict[str, Any]], list[Path]]:
    """``collect`` for ``compare``: a folder's finished runs come as the rows its index
    holds (``index.runs_in``), without opening every run's files; the others as Runs."""
    return _gather(paths, index.runs_in)


def _read_all(folder: Path, names: list[str]) -> list[runs.Run]:
    return [run for run in (runs.try_read_run(folder / name) for name in names) if run]


def _gather(paths: Iterable[Path], read_folder) -> tuple[list, list[Path]]:
    """What ``read_folder(folder, names)`` gives of each folder's runs (a Run, or a row
    with its "path"), and of each run named directly its Run; each run once."""
    found: list = []
    skipped: list[Path] = []
    seen: set[str] = set()
    for path in map(Path, paths):
        run = runs.try_read_run(path)
        if run is not None:
            batch, keys = [run], [os.path.realpath(path)]
        elif path.is_dir():
            names, links = _entries(path)
            batch = read_folder(path, names)
            cut = len(index.path_prefix(path))  # a row's path is the folder's, then its name
            found_names = [
                item["path"][cut:] if type(item) is dict else item.path.name for item in batch
            ]
            keys = _real_paths(path, found_names, links)
            if not batch:
                skipped.append(path)
        else:
            skipped.append(path)
            batch, keys = [], []
        for item, key in zip(batch, keys, strict=True):
            if key not in seen:
                seen.add(key)
                found.append(item)
    return found, skipped


def recorded_runs(folder: Path) -> list[Path] | None:
    """The run directories ``folder``'s ``sweep.json`` records, one per trial, by name inside it.

    A sweep folder may hold more run directories than trials (a trial interrupted and run
    again keeps its first run); only these count. None when the file is gone, lists no
    trials, or is not a sweep file this version reads (one written by hand): then the
    folder stands for all its runs.

    Raises:
        FileRefused: ``sweep.json`` is not a file the gate reads (a FIFO, a device, too
            large, nested too deeply, not JSON): which runs count cannot be known.
    """
    from dnn_lab.store.sweep_file import read_sweep_file

    try:
        payload = read_sweep_file(Path(folder), for_resume=False)
    except files.FileRefused:
        raise
    except DnnLabError:
        return None
    trials = payload.get("trials")
    if not isinstance(trials, list) or not trials:
        return None
    # by name inside the folder: the path recorded may be relative to another directory
    return [
        Path(folder) / Path(t["run_dir"]).name
        for t in trials
        if isinstance(t, dict) and isinstance(t.get("run_dir"), str) and t["run_dir"]
    ]


def _real_paths(folder: Path, names: list[str], links: set[str]) -> list[str]:
    """Where each of ``folder``'s subfolders ``names`` really is (one realpath per folder,
    not per run: 100,000 of them take a second)."""
    real = os.path.join(os.path.realpath(folder), "")  # "/" once: a join per run is slower
    return [os.path.realpath(folder / name) if name in links else real + name for name in names]


def _folders(path: Path) -> list[str]:
    """The names of the folders in ``path``; symlink loops and unreadable entries left out."""
    return _entries(path)[0]


def _entries(path: Path) -> tuple[list[str], set[str]]:
    """``_folders``, and which of them are symbolic links."""
    names = []
    links = set()
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_dir():
                        names.append(entry.name)
                        if entry.is_symlink():
                            links.add(entry.name)
                except OSError:
                    continue
    except OSError:
        return [], set()
    return sorted(names), links


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
    """The runs in a runs directory (and in its sweep folders), newest first, one row each.

    The runs ``collect`` finds there, each folder's read through its index
    (``store.index``): a finished run's row comes from it while the run's files are unchanged.
    """
    names, links = _entries(folder)
    batches = [_listing(folder, names, links)]
    # its sweep folders: a subfolder listed as a run is none (a stat less per run)
    listed = {os.path.basename(row["path"]) for row in batches[0][0]}
    prefix = index.path_prefix(folder)
    for name in names:
        if name not in listed and os.path.isfile(f"{prefix}{name}{os.sep}{runs.SWEEP_FILE}"):
            batches.append(_listing(folder / name, *_entries(folder / name)))
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for batch, keys in batches:
        for row, key in zip(batch, keys, strict=True):
            if key not in seen:
                seen.add(key)
                rows.append(row)
    if status is not None:
        wanted = STATUS_GROUPS.get(status, frozenset({status}))
        rows = [row for row in rows if row["status"] in wanted]
    rows.sort(key=lambda r: (r["started"], r["path"]), reverse=True)
    return rows


def _listing(path: Path, names: list[str], links: set[str]) -> tuple[list[dict], list[str]]:
    """The run list's rows of a folder's runs (of the folder, if a run), and where each is."""
    run = runs.try_read_run(path)
    if run is not None:
        return [index.listing_row(run)], [os.path.realpath(path)]
    rows = index.rows_in(path, names)
    return rows, _real_paths(path, [os.path.basename(row["path"]) for row in rows], links)


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
