"""An index of a folder of runs, so ``runs`` and ``compare`` need not open 20,000 files.

One SQLite file per folder of runs (``runs/``, each sweep folder) holds, per finished run,
what the listings show of it: the parts of ``run.json`` and ``metrics.json`` a ``Run``
row reads, and a stamp of both files (inode, size, mtime). The run folders stay the
truth: every entry is checked against its run's files at each read and re-read when they
differ; a run the index lacks is read and added, an entry whose folder is gone dropped,
so a missing or stale index rebuilds itself as it is read. A damaged one is ignored with
one warning and built anew. Runs still going, and damaged runs, are always read from
their folders (they are few, and their status is decided at reading time).

SQLite rather than one JSON file per sweep: 8 runs ending at once each add their entry in
a transaction (WAL, a busy timeout), without rewriting the whole index or a lock file of
our own; it is in the standard library. Nothing here imports Keras.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dnn_lab.store import runs
from dnn_lab.store.records import MetricsRecord, RunRecord
from dnn_lab.store.status import Status

INDEX_FILE = ".dnn-lab-index.sqlite3"
SCHEMA = 1  # PRAGMA user_version; an index of another version is rebuilt
BUSY_TIMEOUT_S = 5.0  # how long a writer waits for another's transaction (then skips: a cache)
# A file changed again within the filesystem's timestamp granularity keeps its mtime (and,
# written in place, its size and inode): an entry is trusted only once its files are
# this much older than the entry, as git treats "racily clean" files.
RACY_NS = 2_000_000_000
# what a listing row reads of run.json; the rest (device, versions...) is read_run's
_RECORD_FIELDS = ("status", "name", "started", "data", "params")  # and the config
_DAMAGE_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_warned: set[str] = set()


def runs_in(folder: Path, names: Iterable[str]) -> list[runs.Run]:
    """The runs among ``folder``'s subfolders ``names``, in that order; not-runs left out.

    A ``Run`` given from the index holds what listings read (status, name, start, dataset,
    parameter counts, config, metrics); its history, parameter table and the rest of
    ``run.json`` are read from its folder when asked for: ``read_run`` gives all of it.
    """
    scanned = _scan(folder, names, facts=True)
    configs: dict[str, Any] = {}
    return [_run_of(item, folder, configs) if isinstance(item, tuple) else item for item in scanned]


def rows_in(folder: Path, names: Iterable[str]) -> list[dict[str, Any]]:
    """``listing_row`` of each run among ``folder``'s subfolders ``names``: what ``runs``
    shows, taken from the index without reading the run's files where it is current."""
    return [
        _row_of(item, folder) if isinstance(item, tuple) else listing_row(item)
        for item in _scan(folder, names, facts=False)
    ]


def listing_row(run: runs.Run) -> dict[str, Any]:
    """One line of ``dnn-lab runs``."""
    monitor = run.scores.monitor
    return {
        "run": run.name,
        "status": run.status,
        "started": run.started or "",
        "dataset": run.record.dataset or _dataset_of(run.config),
        "metric": monitor,
        "best": run.scores.best_value(monitor),
        "epochs": run.epochs_run,
        "path": str(run.path),
    }


def add_run(run_dir: Path) -> None:
    """Enter a run that has just ended in its folder's index, where one exists.

    Never raises: a run whose entry could not be written is read from its folder and
    entered by the next listing, so nothing is lost.
    """
    run_dir = Path(run_dir)
    folder = run_dir.parent
    try:
        if not (folder / INDEX_FILE).is_file():
            return  # the first listing of the folder makes it
        now = time.time_ns()
        stamp, newest = _stamp(str(run_dir))
        run = runs.read_run(run_dir)
        if stamp is None or not _lasting(run):
            return
        connection = _open(folder, create=False)
        if connection is not None:
            _write(connection, folder, [_entry_of(run_dir.name, stamp, newest, now, run)], [])
            connection.close()
    except (OSError, sqlite3.Error, ValueError, TypeError):
        return  # a run never fails for its cache


def held(folder: Path) -> set[str]:
    """The names of the runs ``folder``'s index holds (empty without a readable index)."""
    connection = _open(Path(folder), create=False)
    if connection is None:
        return set()
    names = set(_entries(connection, Path(folder), facts=False) or ())
    connection.close()
    return names


# --------------------------------------------------------------------------- entries

_COLUMNS = "name, stamp, run, status, started, dataset, metric, best, epochs, facts, config"
_SLOTS = ", ".join("?" for _ in _COLUMNS.split(","))


def _scan(folder: Path, names: Iterable[str], facts: bool) -> list[tuple | runs.Run]:
    """Per run: its current entry (a row of the table), or the Run read from its folder
    (then entered, once it has ended). The index is brought up to date on the way."""
    folder = Path(folder)
    connection = _open(folder, create=True)
    held = _entries(connection, folder, facts) if connection is not None else {}
    if held is None:  # damaged past its header: a new file, filled below
        connection.close()
        connection, held = _open(folder, create=True), {}
    found: list[tuple | runs.Run] = []
    fresh: list[tuple] = []
    kept: set[str] = set()
    now = time.time_ns()
    base = str(folder)
    for name in names:
        stamp, newest = _stamp(f"{base}/{name}")
        entry = held.get(name)
        if entry is not None and stamp is not None and entry[1] == stamp:
            found.append(entry)
            kept.add(name)
            continue
        run = runs.try_read_run(folder / name)
        if run is None:
            continue
        found.append(run)
        if connection is not None and stamp is not None and _lasting(run):
            fresh.append(_entry_of(name, stamp, newest, now, run))
            kept.add(name)
    if connection is not None:
        gone = [name for name in held if name not in kept]
        _write(connection, folder, fresh, gone)
        connection.close()
    return found


def _lasting(run: runs.Run) -> bool:
    """A run whose listing row can no longer change by itself: ended, and not damaged."""
    return not run.problems and run.record.status not in (None, Status.RUNNING)


def _stamp(path: str) -> tuple[str | None, int]:
    """Inode, size and mtime of run.json and metrics.json (None without run.json); the
    newer mtime."""
    try:
        info = os.stat(f"{path}/{runs.RUN_FILE}")
    except OSError:
        return None, 0
    newest = info.st_mtime_ns
    try:
        scores = os.stat(f"{path}/{runs.METRICS_FILE}")
    except FileNotFoundError:
        return f"{info.st_ino}:{info.st_size}:{newest}/-", newest
    except OSError:
        return None, 0
    newest = max(newest, scores.st_mtime_ns)
    return (
        f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}/"
        f"{scores.st_ino}:{scores.st_size}:{scores.st_mtime_ns}",
        newest,
    )


def _entry_of(name: str, stamp: str, newest: int, now: int, run: runs.Run) -> tuple:
    """One row of the table; trusted from now on unless the files are racily new."""
    if now - newest < RACY_NS:
        stamp = f"racy {stamp}"  # never equal to a stamp: re-read next time
    row = listing_row(run)
    record = _fields(run.record, _RECORD_FIELDS)
    if record.get("data") is not None:
        record["data"] = {"dataset": run.record.dataset}
    scores = _fields(run.scores, MetricsRecord.KINDS)
    if len(scores) > 1:
        scores.pop("timing", None)  # the largest part, and no listing shows it
    return (
        name,
        stamp,
        row["run"],
        row["status"],
        row["started"],
        row["dataset"],
        row["metric"],
        row["best"],
        row["epochs"],
        json.dumps([record, scores]),
        json.dumps(run.record.config),
    )


def _fields(record: RunRecord | MetricsRecord, names: Iterable[str]) -> dict[str, Any]:
    """The fields of a record that are set: the record's constructor takes them back."""
    return {name: value for name in names if (value := getattr(record, name)) is not None}


def _row_of(entry: tuple, folder: Path) -> dict[str, Any]:
    prefix = "" if str(folder) == "." else f"{folder}{os.sep}"  # as str(folder / name) has it
    return {
        "run": entry[2],
        "status": entry[3],
        "started": entry[4],
        "dataset": entry[5],
        "metric": entry[6],
        "best": entry[7],
        "epochs": entry[8],
        "path": prefix + entry[0],
    }


def _run_of(entry: tuple, folder: Path, configs: dict[str, Any]) -> runs.Run:
    """The Run an entry stands for (read from its files, were the entry unusable).

    The records are made without ``from_json``'s checks (a third of the time): the index
    holds only what records that passed them gave it. Runs of one config (a config trained
    again, copies) share its dict, parsed once: readers never change a config.
    """
    path = folder / entry[0]
    try:
        record, scores = json.loads(entry[9])
        config = configs.get(entry[10])
        if config is None:
            config = configs[entry[10]] = json.loads(entry[10])
        return runs.Run(
            path=path, record=RunRecord(**record, config=config), scores=MetricsRecord(**scores)
        )
    except (ValueError, TypeError, RecursionError):
        return runs.read_run(path)


def _dataset_of(config: dict[str, Any]) -> str | None:
    data = config.get("data")
    name = data.get("dataset") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


# --------------------------------------------------------------------------- the file


def _open(folder: Path, create: bool) -> sqlite3.Connection | None:
    """The folder's index, made when ``create``; None where it cannot be (a read-only
    folder, a locked or damaged file: the folders are read instead)."""
    path = folder / INDEX_FILE
    if not create and not path.is_file():
        return None
    if create and not folder.is_dir():
        return None
    for attempt in (1, 2):
        try:
            return _connect(path)
        except sqlite3.Error as exc:
            if not _damaged(exc) or attempt == 2:
                return None
            _warn_and_remove(path, exc)
        except OSError:
            return None
    return None


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
        connection.execute("PRAGMA synchronous=NORMAL")  # a cache: no fsync per entry
        if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
            connection.execute("BEGIN IMMEDIATE")
            if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
                connection.execute("DROP TABLE IF EXISTS runs")
                connection.execute(
                    "CREATE TABLE runs (name TEXT PRIMARY KEY, stamp TEXT, run TEXT, "
                    "status TEXT, started TEXT, dataset TEXT, metric TEXT, best REAL, "
                    "epochs INTEGER, facts TEXT, config TEXT)"
                )
                connection.execute(f"PRAGMA user_version={SCHEMA}")
            connection.execute("COMMIT")
    except BaseException:
        connection.close()
        raise
    return connection


def _entries(connection: sqlite3.Connection, folder: Path, facts: bool) -> dict[str, tuple] | None:
    """name -> its row (the facts and config last, if asked for); None when the file
    turned out damaged (then warned about, and removed)."""
    columns = _COLUMNS if facts else _COLUMNS.removesuffix(", facts, config")
    try:
        rows = connection.execute(f"SELECT {columns} FROM runs").fetchall()
    except sqlite3.Error as exc:
        if not _damaged(exc):
            return {}
        _warn_and_remove(folder / INDEX_FILE, exc)
        return None
    return {row[0]: row for row in rows if _well_typed(row)}


_TYPES = (
    str,
    str,
    str,
    str,
    str,
    (str, type(None)),
    (str, type(None)),
    (float, int, type(None)),
    int,
    str,
    str,
)


def _well_typed(row: tuple) -> bool:
    """A row as the index writes it (else it is stale: the run is read and entered again)."""
    # zip stops at the shorter: a row read without its facts
    return all(isinstance(value, kind) for value, kind in zip(row, _TYPES))  # noqa: B905


def _write(connection: sqlite3.Connection, folder: Path, fresh: list[tuple], gone: list[str]):
    """Add ``fresh`` entries and drop ``gone`` ones in one transaction; skipped on failure."""
    if not fresh and not gone:
        return
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(f"INSERT OR REPLACE INTO runs ({_COLUMNS}) VALUES ({_SLOTS})", fresh)
        connection.executemany("DELETE FROM runs WHERE name = ?", [(name,) for name in gone])
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        if _damaged(exc):
            _warn_and_remove(folder / INDEX_FILE, exc)


def _damaged(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _DAMAGE_CODES
    text = str(exc)
    return "not a database" in text or "malformed" in text


def _warn_and_remove(path: Path, exc: sqlite3.Error) -> None:
    """One warning per file and process; the damaged file goes, to be built anew."""
    if str(path) not in _warned:
        _warned.add(str(path))
        sys.stderr.write(
            f"warning: the run index {path} is damaged ({exc}); "
            "reading the run folders instead, and building it anew\n"
        )
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.unlink(f"{path}{suffix}")
