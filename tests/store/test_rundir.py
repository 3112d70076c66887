"""The run-directory format: unique names, atomic files, tolerant reading."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from dnn_lab.store import runs
from dnn_lab.store.status import Status
from tests.conftest import dead_pid


def test_two_runs_in_the_same_second_get_their_own_directories(tmp_path):
    moment = datetime(2026, 1, 2, 3, 4, 5)
    first = runs.create_run_dir(tmp_path, "same", now=moment)
    second = runs.create_run_dir(tmp_path, "same", now=moment)
    assert first.name == "20260102-030405-same"
    assert second.name == "20260102-030405-same-2"
    assert first.is_dir() and second.is_dir()


def test_run_names_cannot_leave_the_runs_directory(tmp_path):
    path = runs.create_run_dir(tmp_path, "../../etc/passwd")
    assert path.parent == tmp_path
    assert "/" not in path.name and ".." not in path.name


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "file.json"
    runs.write_json(target, {"a": float("nan"), "b": [1.5, float("inf")]})
    assert json.loads(target.read_text()) == {"a": None, "b": [1.5, None]}
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_history_columns_follow_the_documented_order():
    rows = [
        {
            "epoch": 1,
            "val_accuracy": 0.5,
            "accuracy": 0.4,
            "seconds": 1.0,
            "lr": 0.1,
            "val_loss": 2.0,
            "loss": 2.5,
        }
    ]
    header = runs.history_to_csv(rows).splitlines()[0]
    assert header == "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"


def test_history_round_trips_exactly(tmp_path):
    rows = [{"epoch": 1, "loss": 0.1 + 0.2, "lr": 0.001, "seconds": 0.25}]
    (tmp_path / runs.HISTORY_FILE).write_text(runs.history_to_csv(rows))
    assert runs.read_history(tmp_path / runs.HISTORY_FILE) == rows


def test_reading_a_damaged_run_never_raises(tmp_path):
    (tmp_path / runs.RUN_FILE).write_text("{not json")
    (tmp_path / runs.HISTORY_FILE).write_text("epoch,loss\n1,0.5\n2,abc\n")
    run = runs.read_run(tmp_path)
    assert run.status == Status.DAMAGED
    assert any("run.json" in p for p in run.problems)
    assert run.history == [{"epoch": 1, "loss": 0.5}]


def test_a_running_run_whose_process_is_gone_reads_as_crashed(tmp_path):
    info = {"status": Status.RUNNING, **runs.host_identity()}
    info["pid"] = dead_pid()
    runs.write_json(tmp_path / runs.RUN_FILE, info)
    assert runs.read_run(tmp_path).status == Status.CRASHED
    info["pid"] = os.getpid()
    runs.write_json(tmp_path / runs.RUN_FILE, info)
    assert runs.read_run(tmp_path).status == Status.RUNNING


def test_is_run_dir(tmp_path: Path):
    assert not runs.is_run_dir(tmp_path)
    (tmp_path / runs.CONFIG_FILE).write_text("name: x\n")
    assert runs.is_run_dir(tmp_path)
