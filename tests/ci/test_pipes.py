"""Output that a CI log or a pipe reads: every command that prints, under `| head -1` and
with its reader gone before the first line, ends quietly with 0; off a terminal nothing
moves the cursor or redraws a frame, even where FORCE_COLOR and TERM are set."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import TINY, merge, write_yaml

DNN_LAB = [sys.executable, "-m", "dnn_lab"]
# cursor movement, erasing, hiding the cursor, carriage returns: what a live display sends
CURSOR = re.compile(r"\x1b\[(\d*[ABCDGHJK]|\?25[lh]|2K)|\r(?!\n)")
NOISE = ("Traceback", "Exception ignored", "BrokenPipeError", "Broken pipe")


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A config, a sweep config, one trained run and one small sweep."""
    root = tmp_path_factory.mktemp("pipes")
    config = write_yaml(root / "tiny.yaml", merge(TINY, {"model": {"units": 4}}))
    study = write_yaml(
        root / "study.yaml",
        merge(TINY, {"name": "study", "model": {"units": 4}, "sweep": {"grid": {"seed": [1, 2]}}}),
    )
    runs = root / "runs"
    subprocess.run(
        [*DNN_LAB, "train", str(config), "--runs-dir", str(runs)], check=True, capture_output=True
    )
    sweeps = root / "sweeps"
    subprocess.run(
        [*DNN_LAB, "sweep", str(study), "--runs-dir", str(sweeps), "--workers", "1"],
        check=True,
        capture_output=True,
    )
    (run,) = runs.iterdir()
    (sweep,) = [p for p in sweeps.iterdir() if p.is_dir()]
    return {
        "root": root,
        "config": config,
        "study": study,
        "run": run,
        "runs": runs,
        "sweep": sweep,
    }


COMMANDS = {
    "help": lambda p: ["--help"],
    "version": lambda p: ["--version"],
    "datasets": lambda p: ["datasets"],
    "schema": lambda p: ["schema"],
    "validate": lambda p: ["validate", p["config"]],
    "train": lambda p: ["train", p["config"], "--runs-dir", p["root"] / "more"],
    "sweep": lambda p: ["sweep", p["study"], "--runs-dir", p["root"] / "more-sweeps"],
    "sweep-dry-run": lambda p: ["sweep", p["study"], "--dry-run"],
    "compare": lambda p: ["compare", p["runs"], p["sweep"]],
    "compare-sweep": lambda p: ["compare", p["sweep"]],
    "show": lambda p: ["show", p["run"]],
    "runs": lambda p: ["runs", p["runs"]],
    "report": lambda p: ["report", p["sweep"]],
    "export": lambda p: ["export", "tensorboard", p["run"], "--logdir", p["root"] / "tb"],
    "smoke": lambda p: ["smoke", p["config"], "--steps", "5"],
    "check": lambda p: ["check", p["run"], "--expect", "val_accuracy>=0"],
}


def args_of(name: str, place: dict) -> list[str]:
    return [str(a) for a in COMMANDS[name](place)]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_head_1_ends_quietly_with_0(place, name):
    """``dnn-lab ... | head -1``, a real pipeline."""
    writer = subprocess.Popen(
        [*DNN_LAB, *args_of(name, place)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=place["root"],
    )
    head = subprocess.run(
        ["head", "-1"], stdin=writer.stdout, capture_output=True, text=True, timeout=300
    )
    writer.stdout.close()
    err = writer.stderr.read().decode()
    assert writer.wait(timeout=300) == 0, err
    assert head.stdout.endswith("\n"), f"{name} printed no line"
    assert not any(word in err for word in NOISE), err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_reader_gone_before_the_first_line_ends_quietly_with_0(place, name):
    """The strictest pipe: closed before the command writes anything."""
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run(
        [*DNN_LAB, *args_of(name, place)],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        cwd=place["root"],
        timeout=300,
    )
    os.close(write)
    assert done.returncode == 0, done.stderr
    assert not any(word in done.stderr for word in NOISE), done.stderr


def test_a_training_with_its_reader_gone_still_completes(place, tmp_path):
    read, write = os.pipe()
    os.close(read)
    subprocess.run(
        [*DNN_LAB, "train", str(place["config"]), "--runs-dir", str(tmp_path)],
        stdout=write,
        stderr=subprocess.DEVNULL,
        timeout=300,
        check=True,
    )
    os.close(write)
    (run,) = tmp_path.iterdir()
    assert '"status": "completed"' in (run / "run.json").read_text()


@pytest.mark.parametrize(
    "env",
    [
        {"FORCE_COLOR": "1", "TERM": "xterm-256color"},
        {"TERM": "xterm-256color"},
        {"TTY_COMPATIBLE": "1"},
    ],
)
def test_no_cursor_movement_off_a_terminal_whatever_the_environment(place, tmp_path, env):
    done = subprocess.run(
        [*DNN_LAB, "train", str(place["config"]), "--runs-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "COLUMNS": "80"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert not CURSOR.search(output), repr(output[:400])
    epochs = [line for line in done.stdout.splitlines() if "epoch" in line and " - " in line]
    assert len(epochs) == TINY["train"]["epochs"]  # one line per epoch, no repeated frames
    coloured = "\x1b[" in output
    assert coloured == ("FORCE_COLOR" in env)  # colour only where FORCE_COLOR asks for it


def test_piped_tables_keep_their_full_width(place):
    done = subprocess.run(
        [*DNN_LAB, "compare", str(place["runs"]), str(place["sweep"]), "--ungrouped"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "40"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) > 40


def test_no_colour_wins_over_force_colour(place):
    done = subprocess.run(
        [*DNN_LAB, "datasets"],
        capture_output=True,
        text=True,
        env={**os.environ, "FORCE_COLOR": "1", "NO_COLOR": "1"},
        timeout=60,
    )
    assert done.returncode == 0
    assert "\x1b[" not in done.stdout
