"""One driver per sweep folder (issue #19): the lock, the message, the take-over."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from dnn_lab.config.loading import validate_config
from dnn_lab.store import runs
from dnn_lab.sweeps.driver import DRIVER_FILE, DriverLock, SweepBusyError
from dnn_lab.sweeps.plan import create_sweep, merged_sweep
from dnn_lab.sweeps.state import SweepState
from tests.conftest import fake_run, merge
from tests.sweeps.conftest import QUICK, cli

BUSY = re.compile(
    r"^error: (\S+) is being run by pid (\d+) on (\S+) since \d\d:\d\d:\d\d; "
    r"wait for it, or stop it first$"
)


def new_sweep(tmp_path, config=QUICK, grid=("model.units=8,16",), repeats=2):
    """A sweep folder with its trials planned and none run, as `dnn-lab sweep` leaves it."""
    cfg = validate_config(config)
    return create_sweep(cfg, merged_sweep(cfg, grid=grid, repeats=repeats), tmp_path / "runs")


def dnn_lab(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dnn_lab", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_dirs(folder):
    return sorted(p for p in folder.iterdir() if runs.is_run_dir(p))


# ---------------------------------------------------------------- the lock itself


def test_a_second_driver_is_refused_with_who_holds_the_folder(tmp_path):
    with DriverLock(tmp_path) as first:
        assert first.took_over is None
        info = json.loads((tmp_path / DRIVER_FILE).read_text())
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        with pytest.raises(SweepBusyError) as caught:
            DriverLock(tmp_path).acquire()
        message = f"error: {caught.value}"
        match = BUSY.match(message)
        assert match, message
        assert match.group(2) == str(os.getpid()) and match.group(3) == socket.gethostname()
    assert not (tmp_path / DRIVER_FILE).exists()  # a clean exit leaves no claim behind
    with DriverLock(tmp_path) as again:  # and the folder is free again
        assert again.took_over is None


def test_a_dead_drivers_claim_never_blocks(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs.write_json(
        tmp_path / DRIVER_FILE,
        {"pid": dead.pid, "host": socket.gethostname(), "started": "2026-01-01T10:15:02+00:00"},
    )
    with DriverLock(tmp_path) as lock:
        assert lock.took_over == (
            f"note: taking over {tmp_path} from pid {dead.pid} on {socket.gethostname()} "
            "since 2026-01-01 10:15:02, which ended without releasing it"
        )


def test_a_folder_that_cannot_be_locked_is_a_clear_error(tmp_path):
    from dnn_lab.errors import DnnLabError

    with pytest.raises(DnnLabError, match=r"cannot lock .*\.lock: No such file or directory"):
        DriverLock(tmp_path / "gone").acquire()


def test_readers_never_take_the_lock(tmp_path):
    folder = tmp_path / "study-sweep"
    for seed in range(2):
        fake_run(folder, f"study-{seed:03d}", {"name": "study", "seed": seed})
    state = new_sweep(tmp_path)
    (folder / runs.SWEEP_FILE).write_text((state.folder / runs.SWEEP_FILE).read_text())
    (folder / "base.yaml").write_text("name: study\n")
    with DriverLock(folder):  # a driver is running the sweep
        for args in (("report", folder), ("compare", folder), ("runs", tmp_path)):
            result = cli(*args)
            assert result.exit_code == 0, (args, result.output)
    assert (folder / "report.md").exists()


def test_resume_dry_run_lists_what_would_run_and_trains_nothing(tmp_path):
    state = new_sweep(tmp_path)
    state.trials[0].status = "completed"
    state.trials[1].status = "interrupted"
    state.save()
    before = (state.folder / runs.SWEEP_FILE).read_bytes()
    result = cli("sweep", "--resume", state.folder, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "3 trials would run; kept: 1 completed" in result.output
    assert "interrupted" in result.output and "model.units=16" in result.output
    assert run_dirs(state.folder) == []
    assert (state.folder / runs.SWEEP_FILE).read_bytes() == before
    assert not (state.folder / DRIVER_FILE).exists() and not (state.folder / "logs").exists()


# ---------------------------------------------------------------- real drivers


def test_two_resumes_started_together_one_runs_one_exits_2(tmp_path):
    state = new_sweep(tmp_path)
    assert len(state.trials) == 4
    first, second = (
        dnn_lab("sweep", "--resume", state.folder),
        dnn_lab("sweep", "--resume", state.folder),
    )
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 2], outputs
    (refused,) = [
        err for p, (_, err) in zip((first, second), outputs, strict=True) if p.returncode == 2
    ]
    lines = refused.strip().splitlines()
    assert len(lines) == 1 and BUSY.match(lines[0]), refused
    assert BUSY.match(lines[0]).group(1) == str(state.folder)
    done = SweepState.load(state.folder)
    assert [t.status for t in done.trials] == ["completed"] * 4
    assert len(run_dirs(state.folder)) == 4
    assert not (state.folder / DRIVER_FILE).exists()


def test_a_resume_takes_over_from_a_killed_driver(tmp_path):
    state = new_sweep(
        tmp_path, merge(QUICK, {"train": {"epochs": 5000}}), grid=("model.units=8",), repeats=1
    )
    driver = dnn_lab("sweep", "--resume", state.folder)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        trial = SweepState.load(state.folder).trials[0]
        if trial.run_dir and runs.read_history(os.path.join(trial.run_dir, runs.HISTORY_FILE)):
            break
        time.sleep(0.3)
    else:
        driver.kill()
        pytest.fail("the driver never started its trial")
    driver.send_signal(signal.SIGKILL)
    driver.communicate(timeout=60)
    trial_pid = runs.read_run(trial.run_dir).record.pid
    try:
        # the trial dies with its driver: it stops after its batch and says so
        deadline = time.monotonic() + 30  # it would train 5,000 epochs otherwise
        while process_alive(trial_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not process_alive(trial_pid), "the trial outlived its killed driver"
        assert runs.read_run(trial.run_dir).status == "interrupted"

        # finish quickly: shorten the trial in sweep.json (a user would let it run)
        payload = json.loads((state.folder / runs.SWEEP_FILE).read_text())
        payload["trials"][0]["overrides"]["train.epochs"] = 1
        (state.folder / runs.SWEEP_FILE).write_text(json.dumps(payload))
        result = cli("sweep", "--resume", state.folder)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(trial_pid, signal.SIGKILL)  # the dead driver's trial, if it outlived it
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if "taking over" in line]
    assert len(notes) == 1 and f"from pid {driver.pid} " in notes[0], result.output
    done = SweepState.load(state.folder)
    assert [t.status for t in done.trials] == ["completed"]
    assert len(run_dirs(state.folder)) == 2  # the killed driver's run stays, as every run does
    grouped = json.loads(cli("compare", state.folder, "--format", "json").output)
    (setting,) = grouped["settings"]
    assert setting["runs"] == [os.path.basename(done.trials[0].run_dir)]  # only the one counted


def process_alive(pid: int) -> bool:
    """Running and not a zombie (a reparented child may wait a while to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
