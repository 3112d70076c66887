"""What `dnn-lab train` prints: user text (paths, names, error messages) as it is."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from dnn_lab.render.terminal import print_run_header, print_training_result


def render(function, *args) -> str:
    out = io.StringIO()
    function(Console(file=out, width=200, color_system=None), *args)
    return out.getvalue()


def test_the_header_and_the_result_print_brackets_literally():
    from dnn_lab.training.trainer import TrainResult

    run_dir = Path("runs/a[/]b [bold]c")
    data = {
        "dataset": "csv [red]",
        "task": "binary",
        "sizes": {"train": 8, "validation": 2},
        "scaling": "standard",
        "notes": ["left out the column '[/]'"],
    }
    device = {"backend": "tensorflow", "kind": "cpu", "name": "[cpu]"}
    header = render(print_run_header, run_dir, data, {"total": 10, "trainable": 10}, device)
    assert f"run    {run_dir}" in header and "csv [red]" in header
    assert "left out the column '[/]'" in header and "([cpu])" in header

    result = TrainResult(
        run_dir=run_dir, status="failed", exit_code=1, message="KeyError: '[/][bold]x'"
    )
    printed = render(print_training_result, result)
    assert f"failed: {run_dir}" in printed and "KeyError: '[/][bold]x'" in printed
