"""Ctrl-C (or SIGTERM) at any moment of a run ends it as interrupted, never as completed.

In-process: a signal sent at named moments of start-up, training and the last writes,
including one whose KeyboardInterrupt library code swallows. Out of process: `dnn-lab
train` sent SIGINT after varied delays, many times.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from dnn_lab.errors import Interrupted
from dnn_lab.store import runs
from tests.conftest import TINY, merge, train_config, write_yaml


def signalling(function, signum=signal.SIGINT, swallow=False):
    """``function``, sending this process ``signum`` first; ``swallow``: as a library's bare
    ``except:`` (or a ``__del__``) would, drop the KeyboardInterrupt it raises."""

    def wrapper(*args, **kwargs):
        try:
            os.kill(os.getpid(), signum)
            for _ in range(1000):  # the handler runs between these instructions
                pass
        except KeyboardInterrupt:
            if not swallow:
                raise
        return function(*args, **kwargs)

    return wrapper


def patch(monkeypatch, target: str, **how) -> None:
    module, name = target.rsplit(".", 1)
    original = getattr(__import__(module, fromlist=[name]), name)
    monkeypatch.setattr(target, signalling(original, **how))


# Before the run directory exists: the run ends at once and writes nothing.
STARTING = [
    "dnn_lab.training.trainer.prepare_data",
    "dnn_lab.training.backend.seed_everything",
    "dnn_lab.training.model.build_model",
    "dnn_lab.training.trainer.GitLookup",
]
# Once it exists: the run stops before (or after) its next batch and reads interrupted.
RUNNING = [
    "dnn_lab.store.runs.create_run_dir",
    "dnn_lab.training.model.summary_text",
    "dnn_lab.training.trainer._save_model",  # after the last epoch: still not "completed"
]


@pytest.mark.parametrize("swallow", [False, True], ids=["raised", "swallowed"])
@pytest.mark.parametrize("target", STARTING)
def test_a_signal_while_starting_writes_no_run_directory(tmp_path, monkeypatch, target, swallow):
    patch(monkeypatch, target, swallow=swallow)
    with pytest.raises(Interrupted) as caught:
        train_config({}, tmp_path / "runs")
    assert caught.value.exit_code == 130 and "SIGINT" in str(caught.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("target", RUNNING)
def test_a_signal_once_the_run_directory_exists_reads_interrupted(tmp_path, monkeypatch, target):
    patch(monkeypatch, target)
    result = train_config({}, tmp_path)
    assert (result.status, result.exit_code) == ("interrupted", 130)
    info = json.loads((result.run_dir / runs.RUN_FILE).read_text())
    assert info["status"] == "interrupted" and info["interrupted_by"] == "SIGINT"
    assert runs.read_run(result.run_dir).status == "interrupted"


def test_sigterm_while_starting_and_while_running_exits_143(tmp_path, monkeypatch):
    patch(monkeypatch, "dnn_lab.training.model.build_model", signum=signal.SIGTERM)
    with pytest.raises(Interrupted) as caught:
        train_config({}, tmp_path / "a")
    assert caught.value.exit_code == 143
    monkeypatch.undo()
    patch(monkeypatch, "dnn_lab.training.model.summary_text", signum=signal.SIGTERM)
    result = train_config({}, tmp_path / "b")
    assert (result.status, result.exit_code) == ("interrupted", 143)


def test_the_handlers_are_the_callers_again_after_a_run(tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    train_config({"train": {"epochs": 1}}, tmp_path)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# When to send SIGINT: seconds after `dnn-lab train` starts (from Python's start-up through
# the imports, the data, the framework and the first compile, into the first epochs), or
# seconds after its run directory appears (before its first epoch ends).
MOMENTS = [
    *(("start", s) for s in (0.05, 0.4, 0.9, 1.5, 2.2, 3.0, 4.0, 5.5, 7.0, 9.0)),
    ("run dir", 0.0),
    ("run dir", 0.3),
]
AT_ONCE = 4  # processes at a time, on a small shared machine
# What the `dnn-lab` script runs. Until its first line has imported the CLI (Python's
# start-up, ~0.15 s) a SIGINT is Python's to handle: a KeyboardInterrupt traceback and
# exit 1, or death by SIGINT, which a shell reports as 130. Nothing is written then.
DNN_LAB = [sys.executable, "-c", "from dnn_lab.cli import main; main()"]


def _send_when_due(process, moment, started, runs_dir) -> None:
    kind, seconds = moment
    if kind == "run dir":
        deadline = time.monotonic() + 60
        while not any(runs_dir.glob(f"*/{runs.RUN_FILE}")) and time.monotonic() < deadline:
            if process.poll() is not None:
                return
            time.sleep(0.01)
        started = time.monotonic()
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    process.send_signal(signal.SIGINT)


def test_ctrl_c_at_any_moment_exits_130_and_never_completes(tmp_path):
    config = write_yaml(tmp_path / "long.yaml", merge(TINY, {"train": {"epochs": 2000}}))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    outcomes = []
    for first in range(0, len(MOMENTS), AT_ONCE):
        batch = []
        for index, moment in enumerate(MOMENTS[first : first + AT_ONCE], start=first):
            runs_dir = tmp_path / f"runs-{index}"
            process = subprocess.Popen(
                [*DNN_LAB, "train", str(config), "--runs-dir", runs_dir],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
            )
            batch.append((process, moment, time.monotonic(), runs_dir))
        for process, moment, started, runs_dir in sorted(batch, key=lambda b: b[1][::-1]):
            _send_when_due(process, moment, started, runs_dir)
        for process, moment, _, runs_dir in batch:
            output = process.communicate(timeout=60)[0].decode(errors="replace")
            found = list(runs_dir.iterdir()) if runs_dir.exists() else []
            status = runs.read_run(found[0]).status if found else None
            outcomes.append((moment, process.returncode, status))
            assert status in (None, "interrupted"), (moment, status, output[-2000:])
            if process.returncode != 130:
                # Python's own handling, while it starts and imports the CLI: no dnn-lab
                # code has run yet, and nothing is written
                assert process.returncode in (1, -signal.SIGINT), (moment, output[-2000:])
                assert moment[0] == "start" and status is None, (moment, output[-2000:])
                assert "dnn_lab/training" not in output and "dnn_lab/config" not in output
                continue
            assert "Traceback" not in output, (moment, output[-2000:])  # one line of ours
    # the moments did fall on both sides of the run directory's creation
    assert {status for _, _, status in outcomes} == {None, "interrupted"}, outcomes
