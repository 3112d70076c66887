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


def run_list(rows, width=200, record=False, limit=None) -> str:
    from dnn_lab.render.terminal import print_run_list

    console = Console(file=io.StringIO(), width=width, color_system=None, record=record)
    print_run_list(console, rows, limit=limit)
    return console.file.getvalue()


def test_the_run_list_written_directly_is_what_rich_draws():
    """Without colour the run list is written directly (rich takes seconds for 10,000
    rows); rich draws it where a console records (and so in the other cases)."""
    rows = [
        {
            "run": f"run-{n}",
            "status": "completed" if n % 3 else "failed",
            "started": f"2026-01-0{n % 9 + 1}T10:00:0{n % 10}+00:00" if n % 4 else "",
            "dataset": "digits" if n % 5 else None,
            "metric": "val_accuracy",
            "best": None if n % 7 == 0 else 0.5 + n / 1000,
            "epochs": n * 37,
            "path": f"runs/2026-run-{n}",
        }
        for n in range(40)
    ]
    for limit in (None, 25):
        plain = run_list(rows, limit=limit)
        assert plain == run_list(rows, limit=limit, record=True)
    assert "... and 15 older runs" in run_list(rows, limit=25)
    # too narrow to fit, or a name rich measures otherwise: rich draws it, wrapped
    assert run_list(rows, width=60) == run_list(rows, width=60, record=True)
    wide = [{**rows[0], "run": "名前 [bold]x"}, *rows[1:]]
    assert "名前 [bold]x" in run_list(wide)
    assert run_list(wide) == run_list(wide, record=True)
    hostile = [{**rows[0], "run": "evil\x1b[31mred\nline"}, *rows[1:]]
    assert "evil\\x1b[31mred\\nline" in run_list(hostile)  # escaped, on one line
    assert run_list(hostile) == run_list(hostile, record=True)
