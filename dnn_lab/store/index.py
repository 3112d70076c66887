"""An index of a folder of runs, so ``runs`` and ``compare`` need not open 20,000 files.

One SQLite file per folder of runs (``runs/``, each sweep folder) holds, per finished run,
what the listings show of it: its line of ``runs``, its row of ``compare`` and its config
(made from ``run.json`` and ``metrics.json``), and a stamp of both files (inode, size,
mtime). The run folders stay the
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

from dnn_lab.direction import is_finite_number
from dnn_lab.store import runs
from dnn_lab.store.records import MetricsRecord
from dnn_lab.store.status import Status

INDEX_FILE = ".dnn-lab-index.sqlite3"
SCHEMA = 2  # PRAGMA user_version; an index of another version is rebuilt
BUSY_TIMEOUT_S = 5.0  # how long a writer waits for another's transaction (then skips: a cache)
# A file changed again within the filesystem's timestamp granularity keeps its mtime (and,
# written in place, its size and inode): an entry is trusted only once its files are
# this much older than the entry, as git treats "racily clean" files.
RACY_NS = 2_000_000_000
_DAMAGE_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_warned: set[str] = set()


def runs_in(folder: Path, names: Iterable[str]) -> list[runs.Run | dict[str, Any]]:
    """The runs among ``folder``'s subfolders ``names``, in that order; not-runs left out.

    Each is given as the row ``compare`` shows of it (``comparison_row``, with ``_config``,
    without ``_run``) where the index holds it current, else as the ``Run`` read from its
    folder: 100,000 rows come from one query and two parses, no ``Run`` built.
    """
    folder = Path(folder)
    found = _scan(folder, names, _COMPARED)
    texts = [item[_ROW] for item in found if isinstance(item, tuple)]
    try:  # one parse for all: a call per row costs as much again
        rows = json.loads(f"[{','.join(texts)}]")
    except (ValueError, RecursionError):
        rows = None
    if not isinstance(rows, list) or len(rows) != len(texts):
        rows = [None] * len(texts)  # a damaged entry: each parsed alone, below
    stored = iter(rows)
    configs: dict[str, dict[str, Any]] = {}
    prefix = path_prefix(folder)
    given: list[runs.Run | dict[str, Any]] = []
    for item in found:
        if type(item) is not tuple:
            given.append(item)
            continue
        row, config = next(stored), configs.get(item[_CONFIG])
        if type(row) is dict and config is not None:  # the common case, without a call
            row["path"] = prefix + item[0]
            row["_config"] = config
            given.append(row)
        else:
            given.append(_compared(item, row, prefix, configs, folder))
    return given


def rows_in(folder: Path, names: Iterable[str]) -> list[dict[str, Any]]:
    """``listing_row`` of each run among ``folder``'s subfolders ``names``: what ``runs``
    shows, taken from the index without reading the run's files where it is current."""
    prefix = path_prefix(Path(folder))
    return [
        _row_of(item, prefix) if isinstance(item, tuple) else listing_row(item)
        for item in _scan(Path(folder), names, _LISTED)
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


def comparison_row(run: runs.Run) -> dict[str, Any]:
    """Everything a comparison can show of one run, as flat keys (``views.compare``
    adds the config and the run itself)."""
    scores = run.scores
    live = run.status in (Status.RUNNING, Status.CRASHED) or scores == MetricsRecord()
    history = run.history if live else []
    final, epochs = scores.final, scores.epochs_run
    if not final and history:  # a run still going (or gone): its last epoch so far
        final = {k: v for k, v in history[-1].items() if k not in ("epoch", "lr", "seconds")}
        epochs = len(history)
    elif epochs is None and live:
        epochs = len(history)
    monitor = scores.monitor or _guess_monitor(final or {})
    totals = run.totals
    row: dict[str, Any] = {
        "run": run.name,
        "path": str(run.path),
        "status": run.status,
        "started": run.started,
        "params": totals.get("total"),
        "trainable": totals.get("trainable"),
        "epochs": epochs,
        "monitor": monitor,
        "best_epoch": scores.best_epoch,
        "seconds_per_epoch": scores.seconds_per_epoch,
    }
    for key, value in (scores.best or {}).items():
        if key.startswith("val_") or key == monitor:
            row[f"best_{key}"] = value
    for key, value in (final or {}).items():
        row[f"final_{key}"] = value
    for key, value in (scores.test or {}).items():
        row[f"test_{key}"] = value
    accuracy = (scores.mc_dropout or {}).get("accuracy")
    if is_finite_number(accuracy):
        row["mc_dropout_accuracy"] = accuracy
    if run.problems:
        row["problems"] = "; ".join(run.problems)
    return row


def _guess_monitor(final: dict[str, Any]) -> str | None:
    for key in ("val_accuracy", "val_loss", "accuracy", "loss"):
        if key in final:
            return key
    return None


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
    names = set(_entries(connection, Path(folder), _LISTED) or ())
    connection.close()
    return names


# --------------------------------------------------------------------------- entries

_COLUMNS = "name, stamp, run, status, started, dataset, metric, best, epochs, row, config"
_SLOTS = ", ".join("?" for _ in _COLUMNS.split(","))
# the types the index writes each column with: a row of other types (a file edited by
# hand) is left out by the query itself, and its run read and entered again
_TYPED = {
    "name": "'text'",
    "stamp": "'text'",
    "run": "'text'",
    "status": "'text'",
    "started": "'text'",
    "dataset": "'text', 'null'",
    "metric": "'text', 'null'",
    "best": "'real', 'integer', 'null'",
    "epochs": "'integer'",
    "row": "'text', 'null'",
    "config": "'text', 'null'",
}
# what each reader selects: the name and the stamp, then what it shows; an entry whose
# third column is NULL lacks it (the run's row needs more than its two files)
_LISTED = ("name", "stamp", "run", "status", "started", "dataset", "metric", "best", "epochs")
_COMPARED = ("name", "stamp", "row", "config")
_ROW, _CONFIG = 2, 3


def _scan(folder: Path, names: Iterable[str], columns: tuple[str, ...]) -> list[tuple | runs.Run]:
    """Per run: its current entry (the ``columns`` of its row in the table), or the Run read
    from its folder (then entered, once it has ended). The index is brought up to date on
    the way."""
    connection = _open(folder, create=True)
    held = _entries(connection, folder, columns) if connection is not None else {}
    if held is None:  # damaged past its header: a new file, filled below
        connection.close()
        connection, held = _open(folder, create=True), {}
    found: list[tuple | runs.Run] = []
    fresh: list[tuple] = []
    kept: set[str] = set()
    now = time.time_ns()
    base = str(folder)
    try:  # each run's files stated relative to the folder: a third less time than by path
        directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        directory = None
    try:
        for name in names:
            where = name if directory is not None else f"{base}/{name}"
            stamp, newest = _stamp(where, directory)
            entry = held.get(name)
            if entry is not None and stamp is not None and entry[1] == stamp:
                kept.add(name)
                if entry[2] is not None:
                    found.append(entry)
                elif (run := runs.try_read_run(folder / name)) is not None:
                    found.append(run)  # current, but without what this reader shows
                continue
            run = runs.try_read_run(folder / name)
            if run is None:
                continue
            found.append(run)
            if connection is not None and stamp is not None and _lasting(run):
                fresh.append(_entry_of(name, stamp, newest, now, run))
                kept.add(name)
    finally:
        if directory is not None:
            os.close(directory)
    if connection is not None:
        gone = [name for name in held if name not in kept]
        _write(connection, folder, fresh, gone)
        connection.close()
    return found


def _lasting(run: runs.Run) -> bool:
    """A run whose listing row can no longer change by itself: ended, and not damaged."""
    return not run.problems and run.record.status not in (None, Status.RUNNING)


def _stands_alone(run: runs.Run) -> bool:
    """A lasting run whose comparison row and config come from run.json and metrics.json
    alone (a run of an older format reads its parameters, config or history from their
    files: ``compare`` reads it from its folder, as ever)."""
    record = run.record
    return record.config is not None and record.params is not None and run.scores != MetricsRecord()


def _stamp(path: str, directory: int | None = None) -> tuple[str | None, int]:
    """Inode, size and mtime of run.json and metrics.json (None without run.json); the
    newer mtime. ``path`` is relative to the open ``directory`` where one is given."""
    try:
        info = os.stat(f"{path}/{runs.RUN_FILE}", dir_fd=directory)
    except OSError:
        return None, 0
    newest = info.st_mtime_ns
    try:
        scores = os.stat(f"{path}/{runs.METRICS_FILE}", dir_fd=directory)
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
    compared = config = None
    if _stands_alone(run):
        compared, config = json.dumps(comparison_row(run)), json.dumps(run.record.config)
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
        compared,
        config,
    )


def path_prefix(folder: Path) -> str:
    """What ``str(folder / name)`` puts before ``name``: a row's path without a Path made."""
    return "" if str(folder) == "." else f"{folder}{os.sep}"


def _row_of(entry: tuple, prefix: str) -> dict[str, Any]:
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


def _compared(
    entry: tuple, row: Any, prefix: str, configs: dict[str, Any], folder: Path
) -> dict[str, Any] | runs.Run:
    """The comparison row an entry holds, with its path and config; the Run read from its
    files where the entry does not parse (a damaged file whose pages still read).

    Runs of one config (a config trained again, copies) share its dict, parsed once:
    readers never change a config.
    """
    try:
        if not isinstance(row, dict):
            row = json.loads(entry[_ROW])
        config = configs.get(entry[_CONFIG])
        if config is None:
            config = json.loads(entry[_CONFIG])
            if isinstance(config, dict):
                configs[entry[_CONFIG]] = config
        if isinstance(row, dict) and isinstance(config, dict):
            row["path"] = prefix + entry[0]
            row["_config"] = config
            return row
    except (ValueError, TypeError, RecursionError):
        pass
    return runs.read_run(folder / entry[0])


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
                    "epochs INTEGER, row TEXT, config TEXT)"
                )
                connection.execute(f"PRAGMA user_version={SCHEMA}")
            connection.execute("COMMIT")
    except BaseException:
        connection.close()
        raise
    return connection


def _entries(
    connection: sqlite3.Connection, folder: Path, columns: tuple[str, ...]
) -> dict[str, tuple] | None:
    """name -> its ``columns``, for the rows of the types the index writes; None when the
    file turned out damaged (then warned about, and removed)."""
    typed = " AND ".join(f"typeof({column}) IN ({_TYPED[column]})" for column in columns)
    try:
        rows = connection.execute(f"SELECT {', '.join(columns)} FROM runs WHERE {typed}")
        rows = rows.fetchall()
    except sqlite3.Error as exc:
        if not _damaged(exc):
            return {}
        _warn_and_remove(folder / INDEX_FILE, exc)
        return None
    return {row[0]: row for row in rows}


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
