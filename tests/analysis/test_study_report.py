"""The study report's answers to "what mattered?": importance, fronts, parallel coordinates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from dnn_lab.analysis import parallel
from dnn_lab.analysis.study import group_runs
from dnn_lab.store.collect import collect
from tests.analysis.test_pareto import costed_sweep
from tests.sweeps.conftest import cli


def costed_sweep_folder(root):
    folder = costed_sweep(root)
    trials = []
    for units in (8, 16, 32):
        for seed in (0, 1):
            run = folder / f"u{units}-{seed}"
            value = json.loads((run / "metrics.json").read_text())["best"]["val_accuracy"]
            trials.append(
                {
                    "index": len(trials),
                    "overrides": {"model.units": units},
                    "seed": seed,
                    "status": "completed",
                    "run_dir": run.name,
                    "value": value,
                    "epochs": 2,
                }
            )
    sweep = {
        "name": "widths",
        "search": "grid",
        "grid": {"model.units": [8, 16, 32]},
        "space": {},
        "repeats": 2,
        "monitor": "val_accuracy",
        "direction": "max",
        "trials": trials,
    }
    (folder / "sweep.json").write_text(json.dumps(sweep))
    (folder / "base.yaml").write_text("name: widths\n")
    return folder


def test_parallel_coordinates_draw_one_line_per_setting_brightest_for_the_best(tmp_path):
    study = group_runs(collect([costed_sweep(tmp_path)])[0])
    svg = parallel.parallel_svg(study)
    assert svg.startswith("<svg") and svg.count("<polyline") == 3
    lines = [line for line in svg.splitlines() if line.startswith("<polyline")]
    best = lines[-1]  # drawn last, on top
    assert "model.units=32: 0.9110" in best and parallel.colour(1.0) in best
    assert 'stroke-width="4"' in best
    assert "model.units=8" in lines[0] and parallel.colour(0.0) in lines[0]
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_report_has_the_fronts_the_parallel_view_and_the_trials(tmp_path):
    folder = costed_sweep_folder(tmp_path / "sweep")
    result = cli("report", folder)
    assert result.exit_code == 0, result.output
    markdown = (folder / "report.md").read_text()
    assert "## What mattered: hyperparameter importance" in markdown
    # one key, three settings: not enough to rank
    assert "Too few settings for an importance estimate: 3 completed, 4 needed" in markdown
    assert "## Trade-offs: the Pareto fronts" in markdown
    assert "front against params: model.units=8 (0.8010 at 1,000 params)" in markdown
    assert "![parallel coordinates](report-parallel.svg)" in markdown
    assert "6 trials (6 completed) trained 12 epochs in all." in markdown
    page = (folder / "report.html").read_text()
    assert page.count("<polyline") == 3 and "<svg" in page and "<ul><li>front against" in page
    assert (folder / "report-pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_report_html_renders_offline_in_chromium(tmp_path):
    """Look at the page as a person would: a headless browser, no network, a screenshot."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    folder = costed_sweep_folder(tmp_path / "sweep")
    assert cli("report", folder).exit_code == 0
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tempfile.mkdtemp()}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            (folder / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), done.stderr[-2000:]
    assert shot.read_bytes()[:4] == b"\x89PNG" and os.path.getsize(shot) > 20_000
    keep = os.environ.get("DNN_LAB_KEEP_SCREENSHOT")  # to look at it by eye
    if keep:
        shutil.copy(shot, keep)
