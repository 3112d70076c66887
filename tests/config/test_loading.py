"""Reading a config file: only regular files, and never more than the size limit."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.config.loading import MAX_CONFIG_BYTES, read_config_file
from dnn_lab.errors import ConfigError


def test_dev_zero_is_refused_at_once_without_reading_it():
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dnn_lab", "validate", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "/dev/zero is a character device, not a config file" in done.stderr
    assert time.monotonic() - started < 20


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    result = CliRunner().invoke(app, ["validate", str(fifo)])
    assert result.exit_code == 2
    assert "is a FIFO (named pipe), not a config file" in result.output


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "is a directory, not a config file"),
        (lambda p: None, "config file not found"),
        (lambda p: p.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1)), "over the 262144-byte limit"),
    ],
)
def test_other_files_that_are_not_configs(tmp_path, make, message):
    path = tmp_path / "c.yaml"
    make(path)
    with pytest.raises(ConfigError, match=message):
        read_config_file(path)


def test_a_file_at_the_limit_is_read(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: x\n" + b"#" * (MAX_CONFIG_BYTES - 8))
    assert read_config_file(path) == {"name": "x"}
