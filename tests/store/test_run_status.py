"""What ``runs`` calls a run: a crash is a failure, and a reused pid is not a live run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.store import runs
from dnn_lab.store.status import Status
from tests.conftest import dead_pid, fake_run


def listed(folder: Path, *args: str) -> dict[str, str]:
    """``dnn-lab runs FOLDER ...`` as {run folder name: status}, from its JSON-free table."""
    result = CliRunner().invoke(app, ["runs", str(folder), "--all", *args])
    assert result.exit_code == 0, result.output
    found = {}
    for line in result.output.splitlines():
        cells = line.split()
        if cells and cells[-1].startswith(str(folder)):
            found[Path(cells[-1]).name] = cells[1]
    return found


def left_running(root: Path, folder: str, pid: int, pid_started: int | None) -> Path:
    """A run whose run.json still says running, as a killed process leaves it."""
    path = fake_run(root, folder, status=Status.RUNNING, metrics=False)
    info = runs.read_run(path).record.to_json()
    info.update(host=socket.gethostname(), pid=pid, pid_started=pid_started)
    runs.write_json(path / runs.RUN_FILE, info)
    return path


def test_status_failed_lists_crashed_runs_too(tmp_path):
    fake_run(tmp_path, "broke", status=Status.FAILED)
    fake_run(tmp_path, "fine", status=Status.COMPLETED)
    left_running(tmp_path, "killed", dead_pid(), None)
    assert listed(tmp_path) == {"broke": "failed", "fine": "completed", "killed": "crashed"}
    assert listed(tmp_path, "--status", "failed") == {"broke": "failed", "killed": "crashed"}
    assert listed(tmp_path, "--status", "crashed") == {"killed": "crashed"}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="start times come from /proc")
def test_a_running_run_whose_pid_another_process_took_reads_as_crashed(tmp_path):
    """The run's process died and the system gave its pid to another (here: a sleep)."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ours = runs.process_start_ticks(os.getpid())  # the run's process started long before
        theirs = runs.process_start_ticks(other.pid)
        assert ours is not None and theirs is not None and ours != theirs
        left_running(tmp_path, "reused", other.pid, ours)
        left_running(tmp_path, "alive", other.pid, theirs)
        left_running(tmp_path, "old-format", other.pid, None)  # no start time: as before
        assert listed(tmp_path) == {
            "reused": "crashed",
            "alive": "running",
            "old-format": "running",
        }
        assert listed(tmp_path, "--status", "failed") == {"reused": "crashed"}
    finally:
        other.kill()
        other.wait()


def test_a_new_run_records_when_its_process_started():
    identity = runs.host_identity()
    assert identity["pid"] == os.getpid()
    if Path("/proc/self/stat").exists():
        assert identity["pid_started"] == runs.process_start_ticks(os.getpid()) > 0
