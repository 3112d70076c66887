"""The curves helper: it draws in its own process, and a failed helper is not a lost plot."""

from __future__ import annotations

import json
import subprocess
import sys

ROWS = [
    {"epoch": e, "loss": 1 / e, "accuracy": 1 - 1 / (e + 1), "val_loss": 1.1 / e}
    for e in range(1, 4)
]


def paint(tmp_path, background: bool) -> dict:
    """Draw in a fresh Python; report the file and whether matplotlib loaded there."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from dnn_lab.render.painter import CurvePainter\n"
        f"painter = CurvePainter(background={background})\n"
        f"painter.begin({ROWS!r}, Path({str(tmp_path / 'curves.png')!r}), 'run')\n"
        "painter.finish()\n"
        "print(json.dumps({'matplotlib': 'matplotlib' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_helper_process_draws_the_curves(tmp_path):
    assert paint(tmp_path, background=True) == {"matplotlib": False}, "drawn by the helper"
    png = (tmp_path / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"], "no partial file left"


def test_without_a_helper_the_curves_are_drawn_in_process(tmp_path):
    assert paint(tmp_path, background=False) == {"matplotlib": True}
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_one_helper_draws_run_after_run(tmp_path):
    """A process that trains again keeps its helper: matplotlib is imported there once."""
    from pathlib import Path

    from dnn_lab.render.painter import CurvePainter

    painter = CurvePainter(background=True)
    try:
        pid = painter._process.pid
        for name in ("one.png", "two.png"):
            painter.begin(ROWS, Path(tmp_path / name), name)
            painter.finish()
            assert painter.alive and painter._process.pid == pid
        assert all(
            (tmp_path / n).read_bytes().startswith(b"\x89PNG") for n in ("one.png", "two.png")
        )
    finally:
        painter.close()
    assert not painter.alive


def test_a_helper_that_died_is_replaced_by_drawing_in_process(tmp_path):
    """A helper killed between runs (the OOM killer, say) costs no curves."""
    from pathlib import Path

    from dnn_lab.render.painter import CurvePainter

    painter = CurvePainter(background=True)
    try:
        painter._process.kill()
        painter._process.wait()
        assert not painter.alive
        painter.begin(ROWS, Path(tmp_path / "c.png"), "c")
        painter.finish()
    finally:
        painter.close()
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png"]
