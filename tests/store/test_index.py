"""The index of a runs folder: the same output as reading every run, kept true to the folders.

Real runs (the session's trained run, copied; eight real `dnn-lab train` processes), real
SQLite files, real processes writing at once, and the CLI's output compared with and
without the index.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.store import index, runs
from dnn_lab.store.collect import _folders
from tests.conftest import fake_run

runner = CliRunner()
HOUR_AGO_NS = time.time_ns() - 3_600 * 10**9


def invoke(*args) -> tuple[str, str]:
    """A command that must succeed: its stdout and its stderr."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout, result.stderr


def outputs(folder: Path) -> list[str]:
    """What a user sees of ``folder``: the run list, the comparison in two formats."""
    return [
        invoke("runs", folder, "--all")[0],
        invoke("compare", folder, "--format", "json")[0],
        invoke("compare", folder)[0],
    ]


def age(folder: Path) -> None:
    """Every run's files an hour old, as in a folder of past runs (entries then trusted
    at once, not after git's racy-clean wait)."""
    for path in folder.rglob("*.json"):
        os.utime(path, ns=(HOUR_AGO_NS, HOUR_AGO_NS))


@pytest.fixture
def folder(tmp_path, trained):
    """Real runs (copies of one, one renamed) beside a failed, a running, a damaged one
    and a sweep folder."""
    root = tmp_path / "runs"
    for number in range(3):
        shutil.copytree(trained.run_dir, root / f"{trained.run_dir.name}-{number}")
    renamed = root / f"{trained.run_dir.name}-2" / runs.RUN_FILE
    renamed.write_text(renamed.read_text().replace('"name": "tiny"', '"name": "renamed"'))
    fake_run(root, "20260101-100000-failed", {"name": "failed"}, status="failed")
    fake_run(root, "20260101-110000-going", {"name": "going"}, status="running", metrics=False)
    damaged = fake_run(root, "20260101-120000-damaged", {"name": "damaged"})
    (damaged / runs.METRICS_FILE).write_text("{ not json")
    sweep = root / "20260102-000000-study-sweep"
    fake_run(sweep, "20260102-000001-study-000", {"name": "study-000", "seed": 1})
    fake_run(sweep, "20260102-000002-study-001", {"name": "study-001", "seed": 2})
    (sweep / runs.SWEEP_FILE).write_text("{}")
    age(root)
    return root


def without_index(folder: Path) -> list[str]:
    """The output as it was before the index: every run read from its files."""
    for path in [folder, *folder.iterdir()]:
        (path / index.INDEX_FILE).unlink(missing_ok=True)
    kept = index.runs_in, index.rows_in
    try:  # the no-index path: every folder's runs read one by one
        index.runs_in = lambda f, names: [r for r in (runs.try_read_run(f / n) for n in names) if r]
        index.rows_in = lambda f, names: [index.listing_row(r) for r in index.runs_in(f, names)]
        return outputs(folder)
    finally:
        index.runs_in, index.rows_in = kept


def record_reads(monkeypatch) -> list[str]:
    """The names of the run folders read from here on, in order."""
    read: list[str] = []
    original = runs.read_run
    monkeypatch.setattr(
        runs, "read_run", lambda path: read.append(Path(path).name) or original(path)
    )
    return read


def test_the_index_gives_the_output_of_reading_every_run(folder, monkeypatch):
    plain = without_index(folder)
    assert not (folder / index.INDEX_FILE).exists()
    first = outputs(folder)  # builds the index while reading the folders
    assert first == plain
    assert index.held(folder) == {
        name for name in _folders(folder) if "-damaged" not in name and "-going" not in name
    } - {"20260102-000000-study-sweep"}
    read = record_reads(monkeypatch)
    assert outputs(folder) == plain
    # from the index: only the run still going and the damaged one are read (and the
    # folders themselves, asked whether they are runs)
    assert set(read) <= {
        "runs",
        "20260102-000000-study-sweep",
        "20260101-110000-going",
        "20260101-120000-damaged",
    }
    assert "20260101-120000-damaged" in read


def test_a_deleted_run_leaves_the_listing_and_the_index(folder, trained):
    outputs(folder)
    gone = f"{trained.run_dir.name}-1"
    assert gone in index.held(folder)
    shutil.rmtree(folder / gone)
    listed, _ = invoke("runs", folder, "--all")
    assert gone not in listed and f"{trained.run_dir.name}-0" in listed
    assert gone not in index.held(folder)
    assert outputs(folder) == without_index(folder)


def test_a_run_damaged_after_indexing_reads_as_damaged(folder, trained):
    outputs(folder)
    name = f"{trained.run_dir.name}-0"
    (folder / name / runs.METRICS_FILE).write_text('{"best": [1, 2]}')
    listed, _ = invoke("runs", folder, "--all", "--status", "damaged")
    assert name in listed
    assert name not in index.held(folder)  # damaged runs are always read from their files
    assert outputs(folder) == without_index(folder)


def test_a_run_changed_after_indexing_is_read_again(folder, trained):
    outputs(folder)
    run_file = folder / f"{trained.run_dir.name}-0" / runs.RUN_FILE
    run_file.write_text(run_file.read_text().replace('"name": "tiny"', '"name": "changed-later"'))
    listed, _ = invoke("runs", folder, "--all")
    assert "changed-later" in listed
    compared, _ = invoke("compare", folder, "--format", "json")
    assert "changed-later" in compared
    assert outputs(folder) == without_index(folder)


def test_a_change_within_the_timestamp_granularity_is_still_seen(tmp_path):
    """Same size, same inode, same mtime (a coarse clock): the entry, written within two
    seconds of the file, was never trusted."""
    root = tmp_path / "runs"
    run = fake_run(root, "20260101-100000-a", {"name": "alpha"})
    run_file = run / runs.RUN_FILE
    assert "alpha" in invoke("runs", root)[0]
    assert "20260101-100000-a" in index.held(root)
    before = run_file.stat()
    with open(run_file, "r+b") as handle:  # in place: the inode stays
        text = handle.read().replace(b'"name": "alpha"', b'"name": "gamma"')
        handle.seek(0)
        handle.write(text)
    os.utime(run_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = run_file.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    listed = invoke("runs", root)[0]
    assert "gamma" in listed and "alpha" not in listed


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_index_is_ignored_with_one_warning_and_built_anew(folder, damage):
    plain = without_index(folder)
    outputs(folder)
    path = folder / index.INDEX_FILE
    size = path.stat().st_size
    assert size > 8192
    if damage == "garbage":
        path.write_bytes(os.urandom(size))
    else:
        with open(path, "r+b") as handle:
            handle.truncate(size // 2)
    index._warned.clear()  # one warning per file and process: tests share the process
    result = runner.invoke(app, ["runs", str(folder), "--all"])
    assert result.exit_code == 0, result.output
    assert result.stdout == plain[0]
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "run index" in warnings[0] and "damaged" in warnings[0]
    assert path.exists() and index.held(folder)  # built anew
    index._warned.clear()
    again = runner.invoke(app, ["compare", str(folder), "--format", "json"])
    assert again.stdout == plain[1] and "warning" not in again.stderr


def test_eight_runs_ending_at_once_each_enter_the_index(tmp_path, make_config):
    """Eight real `dnn-lab train` processes into one runs folder whose index exists; every
    run is entered by the run itself (no listing in between rebuilds anything)."""
    root = tmp_path / "runs"
    fake_run(root, "20260101-000000-first", {"name": "first"})
    invoke("runs", root)  # makes the index
    assert index.held(root) == {"20260101-000000-first"}
    config = make_config({"train": {"epochs": 1}})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "dnn_lab", "train", str(config), "--runs-dir", str(root)]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(8)
    ]
    for process in processes:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output.decode()
    trained = {p.name for p in root.iterdir() if p.is_dir()} - {"20260101-000000-first"}
    assert len(trained) == 8
    assert index.held(root) == trained | {"20260101-000000-first"}


def _enter_many(root: str, names: list[str], barrier) -> None:
    barrier.wait()  # all at once
    for name in names:
        index.add_run(Path(root) / name)


def test_writers_at_the_same_moment_never_lose_an_entry(tmp_path):
    """Eight processes entering 25 runs each, released together."""
    root = tmp_path / "runs"
    names = [f"20260101-{n:06d}-run" for n in range(200)]
    for name in names:
        fake_run(root, name, {"name": name})
    invoke("runs", root)
    for path in [root / n / runs.RUN_FILE for n in names]:  # rewritten: every entry stale
        path.write_text(json.dumps({**json.loads(path.read_text()), "name": "again"}))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(8)
    workers = [
        context.Process(target=_enter_many, args=(str(root), names[k::8], barrier))
        for k in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert index.held(root) == set(names)
    connection = index._open(root, create=False)
    shown = dict(connection.execute("SELECT name, run FROM runs").fetchall())
    connection.close()
    assert set(shown.values()) == {"again"}  # each writer's entry, none lost to another's


def compared(folder: Path) -> list[str]:
    """``compare`` as users ask it: every format, sorted, filtered, a sweep's trials."""
    sweep = folder / "20260102-000000-study-sweep"
    return [
        invoke("compare", folder, "--format", "csv")[0],
        invoke("compare", folder, "--format", "markdown", "--sort", "params")[0],
        invoke("compare", folder, "--format", "json", "--where", "val_accuracy>0.1")[0],
        invoke("compare", folder, "--columns", "train.epochs", "--top", "2", "--reverse")[0],
        invoke("compare", folder, "--format", "json", "--where", "status!=completed")[0],
        invoke("compare", sweep, "--ungrouped", "--format", "json")[0],
        invoke("compare", sweep, folder / sorted(_folders(folder))[0], "--ungrouped")[0],
    ]


def test_compare_from_the_index_is_compare_from_the_folders(folder, monkeypatch):
    """Mixed statuses, a damaged run, a sweep folder: each way of asking gives what
    reading every run gives, and a finished run's row comes from the index alone."""
    plain = without_index(folder)  # also the runs_in of reading every run, below
    kept = index.runs_in
    index.runs_in = lambda f, names: [r for r in (runs.try_read_run(f / n) for n in names) if r]
    try:
        expected = compared(folder)
    finally:
        index.runs_in = kept
    assert outputs(folder) == plain  # builds the index
    read = record_reads(monkeypatch)
    assert compared(folder) == expected
    assert set(read) <= {
        "runs",
        "20260102-000000-study-sweep",
        "20260101-110000-going",
        "20260101-120000-damaged",
        sorted(_folders(folder))[0],  # named directly: read from its folder
    }


def test_a_rows_history_is_its_runs(folder):
    """Rows from the index hold no Run: their curves are read when asked for."""
    from dnn_lab.views import compare

    outputs(folder)
    rows = compare.compare([folder]).rows
    assert any("_run" not in row for row in rows)
    for row in rows:
        assert compare.history(row) == runs.read_run(Path(row["path"])).history
    assert any(compare.history(row) for row in rows)


def test_a_run_of_the_older_format_is_compared_from_its_folder(tmp_path):
    """A run.json without the parameter counts: its row needs params.json, which the
    index does not stamp, so compare reads it each time."""
    root = tmp_path / "runs"
    fake_run(root, "20260101-100000-new", {"name": "new"})
    old = fake_run(root, "20260101-110000-old", {"name": "old"})
    record = json.loads((old / runs.RUN_FILE).read_text())
    del record["params"]
    (old / runs.RUN_FILE).write_text(json.dumps(record))
    runs.write_json(old / runs.PARAMS_FILE, {"totals": {"total": 99, "trainable": 99}})
    age(root)
    plain = without_index(root)
    assert outputs(root) == plain and index.held(root) == set(_folders(root))
    assert outputs(root) == plain
    runs.write_json(old / runs.PARAMS_FILE, {"totals": {"total": 77, "trainable": 77}})
    shown = json.loads(invoke("compare", root, "--format", "json")[0])["runs"]
    assert {row["run"]: row["params"] for row in shown} == {"new": 1210, "old": 77}


def test_an_entry_that_will_not_parse_is_read_from_its_folder(folder, trained):
    """Pages that read, values that do not: that run is read from its files, the others
    still come from the index."""
    plain = without_index(folder)
    outputs(folder)
    connection = index._open(folder, create=False)
    connection.execute(
        "UPDATE runs SET row = '{not json' WHERE name = ?", (f"{trained.run_dir.name}-0",)
    )
    connection.execute("UPDATE runs SET row = 7 WHERE name = ?", (f"{trained.run_dir.name}-1",))
    connection.close()
    assert outputs(folder) == plain


def test_an_index_of_an_older_version_is_built_anew(folder):
    plain = without_index(folder)
    outputs(folder)
    connection = index._open(folder, create=False)
    connection.execute("PRAGMA user_version = 1")
    connection.execute("DROP TABLE runs")
    connection.execute("CREATE TABLE runs (name TEXT PRIMARY KEY, stamp TEXT, facts TEXT)")
    connection.close()
    result = runner.invoke(app, ["compare", str(folder), "--format", "json"])
    assert result.exit_code == 0 and result.stdout == plain[1] and "warning" not in result.stderr
    assert "20260101-100000-failed" in index.held(folder)
