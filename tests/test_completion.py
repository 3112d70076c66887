"""Shell completion (Typer's own) and --version, as a shell would ask for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from dnn_lab import __version__
from dnn_lab.cli import app

ROOT = Path(__file__).resolve().parents[1]


def complete(words: str, cwd: Path = ROOT) -> list[str]:
    """What bash gets back for the last word of ``words`` (a trailing space: a new word)."""
    count = len(words.split()) - (0 if words.endswith(" ") else 1)
    done = subprocess.run(
        [sys.executable, "-m", "dnn_lab"],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "_DNN_LAB_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(count),
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"dnn-lab {__version__}\n"


def test_the_completion_options_are_offered():
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.output and "--show-completion" in result.output


def test_commands_and_options_complete():
    assert complete("dnn-lab val") == ["validate"]
    assert complete("dnn-lab export ") == ["mlflow", "tensorboard"]
    assert "--tracking-uri" in complete("dnn-lab export mlflow --")
    assert complete("dnn-lab compare --so") == ["--sort"]


def test_config_arguments_complete_yaml_files_and_folders(tmp_path):
    (tmp_path / "configs" / "studies").mkdir(parents=True)
    (tmp_path / "configs" / "adam.yaml").write_text("name: a\n")
    (tmp_path / "configs" / "notes.txt").write_text("not a config\n")
    assert complete("dnn-lab train configs/", cwd=tmp_path) == [
        "configs/adam.yaml",
        "configs/studies/",
    ]
    assert complete("dnn-lab validate conf", cwd=tmp_path) == ["configs/"]


def test_run_arguments_complete_folders_only(tmp_path):
    (tmp_path / "runs" / "20260101-100000-a").mkdir(parents=True)
    (tmp_path / "runs" / "stray.txt").write_text("")
    assert complete("dnn-lab show runs/2", cwd=tmp_path) == ["runs/20260101-100000-a/"]
    assert complete("dnn-lab compare runs/", cwd=tmp_path) == ["runs/20260101-100000-a/"]
    assert complete("dnn-lab export mlflow ru", cwd=tmp_path) == ["runs/"]
    assert complete("dnn-lab sweep --resume runs/", cwd=tmp_path) == ["runs/20260101-100000-a/"]
