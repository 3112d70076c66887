"""Faults and concurrency, done for real: signals, a full disk, a read-only directory,
a crashing callback, and many trainings started at once."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dnn_lab.store import collect, runs
from dnn_lab.views import compare
from tests.conftest import TINY, merge, train_config, write_yaml

PYTHON = [sys.executable, "-m", "dnn_lab"]


def start(args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [*PYTHON, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs
    )


def wait_for_epochs(runs_dir: Path, count: int, process: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for history in runs_dir.glob(f"*/{runs.HISTORY_FILE}"):
            if len(runs.read_history(history)) >= count:
                return history.parent
        if process.poll() is not None:
            pytest.fail(process.stdout.read().decode())
        time.sleep(0.1)
    process.kill()
    pytest.fail("no epochs in time")


def test_a_second_ctrl_c_stops_at_once_and_the_run_reads_interrupted(tmp_path):
    config = write_yaml(tmp_path / "long.yaml", merge(TINY, {"train": {"epochs": 5000}}))
    process = start(["train", config, "--runs-dir", tmp_path / "runs"])
    run_dir = wait_for_epochs(tmp_path / "runs", 2, process)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 130, output
    run = runs.read_run(run_dir)
    assert run.status == "interrupted" and len(run.history) >= 2


def test_a_full_disk_when_saving_the_model_fails_the_run_and_keeps_its_history(tmp_path):
    config = write_yaml(
        tmp_path / "c.yaml", merge(TINY, {"model": {"units": 200}, "train": {"epochs": 3}})
    )

    def small_disk():  # files may not grow past 48 KB: model.keras (~200 KB) cannot be written
        resource.setrlimit(resource.RLIMIT_FSIZE, (48_000, 48_000))

    process = start(["train", config, "--runs-dir", tmp_path / "runs"], preexec_fn=small_disk)
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 1, output
    assert "Traceback" in output  # an unexpected failure keeps its traceback
    (run_dir,) = (tmp_path / "runs").iterdir()
    info = json.loads((run_dir / runs.RUN_FILE).read_text())
    assert info["status"] == "failed"
    assert "File too large" in info["error"]["message"] or "27" in info["error"]["message"]
    assert len(runs.read_history(run_dir / runs.HISTORY_FILE)) == 3
    assert not (run_dir / runs.MODEL_FILE).exists()
    assert [p.name for p in run_dir.iterdir() if ".tmp" in p.name or ".partial" in p.name] == []


def test_an_exception_in_a_callback_fails_the_run_with_its_message(tmp_path, monkeypatch):
    from dnn_lab.training import callbacks

    original = callbacks.HistoryRecorder.on_epoch_end

    def broken(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise RuntimeError("callback exploded")

    monkeypatch.setattr(callbacks.HistoryRecorder, "on_epoch_end", broken)
    result = train_config({"train": {"epochs": 5}}, tmp_path)
    assert result.status == "failed" and isinstance(result.error, RuntimeError)
    info = json.loads((result.run_dir / runs.RUN_FILE).read_text())
    assert info["error"]["message"] == "callback exploded"
    assert "Traceback" in info["error"]["traceback"]
    assert len(runs.read_history(result.run_dir / runs.HISTORY_FILE)) == 2


def test_a_read_only_runs_directory_is_a_clear_error(tmp_path):
    prefix: list[str] = []
    if os.geteuid() == 0:  # root writes anywhere; drop the capability that lets it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: no way to honour a read-only mode")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    shared = Path(tempfile.mkdtemp(prefix="dnn-lab-ro-"))
    try:
        config = write_yaml(shared / "c.yaml", TINY)
        locked = shared / "runs"
        locked.mkdir()
        os.chmod(locked, 0o555)
        process = subprocess.Popen(
            [*prefix, *PYTHON, "train", str(config), "--runs-dir", str(locked)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = process.communicate(timeout=120)[0].decode()
        assert process.returncode == 2, output
        assert "cannot create a run directory" in output and "Permission denied" in output
        assert "Traceback" not in output
        assert list(locked.iterdir()) == []
    finally:
        os.chmod(shared / "runs", 0o755)
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.parametrize("count", [2, 8])
def test_simultaneous_trainings_with_one_name_never_share_a_directory(tmp_path, count):
    config = write_yaml(
        tmp_path / "c.yaml", merge(TINY, {"model": {"units": 8}, "train": {"epochs": 2}})
    )
    processes = [
        start(["train", config, "--runs-dir", tmp_path / "runs", "--name", "same"])
        for _ in range(count)
    ]
    outputs = [p.communicate(timeout=300)[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0] * count, outputs
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == count
    pids = set()
    for folder in folders:
        info = json.loads((folder / runs.RUN_FILE).read_text())
        assert info["status"] == "completed"
        pids.add(info["pid"])
        assert [r["epoch"] for r in runs.read_history(folder / runs.HISTORY_FILE)] == [1, 2]
        assert (folder / runs.MODEL_FILE).is_file()
    assert len(pids) == count  # one process per directory: nothing mixed


def test_compare_and_runs_read_a_consistent_view_while_trainings_write(tmp_path):
    config = write_yaml(tmp_path / "c.yaml", merge(TINY, {"train": {"epochs": 15}}))
    processes = [start(["train", config, "--runs-dir", tmp_path / "runs"]) for _ in range(2)]
    seen = set()
    try:
        while any(p.poll() is None for p in processes):
            if (tmp_path / "runs").exists():
                result = compare.compare([tmp_path / "runs"])
                for row in result.rows:
                    seen.add(row["status"])
                    if row["status"] == "running":
                        assert row["epochs"] >= 0
                collect.list_runs(tmp_path / "runs")
            time.sleep(0.1)
    finally:
        for process in processes:
            process.wait(timeout=300)
    assert "running" in seen
    assert seen <= {"running", "completed"}
    final = compare.compare([tmp_path / "runs"])
    assert [row["status"] for row in final.rows] == ["completed", "completed"]


def test_a_diverging_run_exits_3_through_the_command_line(tmp_path):
    config = write_yaml(
        tmp_path / "c.yaml",
        merge(
            TINY,
            {
                "data": {"task": "regression"},
                "train": {"optimizer": {"name": "sgd", "learning_rate": 1000.0}},
            },
        ),
    )
    process = start(["train", config, "--runs-dir", tmp_path / "runs"])
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 3, output
    assert "diverged" in output and "learning rate" in output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert compare.compare([run_dir]).rows[0]["status"] == "diverged"
