"""The sweep's terminal output prints settings and folders as they are, brackets and all."""

from __future__ import annotations

import io

from rich.console import Console

from dnn_lab.sweeps.state import SweepState, Trial
from dnn_lab.sweeps.view import print_resume_plan


def test_the_resume_plan_prints_brackets_literally(tmp_path):
    folder = tmp_path / "a[" / "]b [bold]sweep"
    state = SweepState(
        folder=folder,
        name="odd",
        search="grid",
        grid={"data.columns": [["[bold]", "x"]]},
        space={},
        repeats=1,
        planned=1,
        seed=7,
        trials=[Trial(index=0, overrides={"data.columns": ["[bold]", "x"]}, seed=7)],
    )
    out = io.StringIO()
    print_resume_plan(Console(file=out, width=200, color_system=None), state)
    text = out.getvalue()
    assert "[bold]" in text and "data.columns=" in text
    assert f"1 trials would run; kept: none ({folder})" in text
