"""`dnn-lab check`: thresholds, baselines (runs and files), seed statistics, bad input."""

from __future__ import annotations

import json

import pytest
from junitparser import JUnitXml
from typer.testing import CliRunner

from dnn_lab.cli import app
from tests.conftest import fake_run


def history(*val_accuracy: float) -> list[dict]:
    return [
        {
            "epoch": i + 1,
            "loss": 1.0,
            "accuracy": 0.5,
            "val_loss": 1.0,
            "val_accuracy": v,
            "lr": 0.001,
            "seconds": 0.1,
        }
        for i, v in enumerate(val_accuracy)
    ]


def check(*args: str):
    return CliRunner().invoke(app, ["check", *args])


@pytest.fixture
def seeds(tmp_path):
    """A baseline setting over three seeds (0.90, 0.93, 0.96) and a run of each kind."""
    base = tmp_path / "base"
    for seed, value in zip((1, 2, 3), (0.90, 0.93, 0.96), strict=True):
        fake_run(base, f"s{seed}", {"seed": seed}, history=history(0.5, value))
    noisy = fake_run(tmp_path / "noisy", "r", {"seed": 9}, history=history(0.5, 0.91))
    worse = fake_run(tmp_path / "worse", "r", {"seed": 9}, history=history(0.3, 0.5))
    return base, noisy, worse


def gates(done) -> list[dict]:
    return json.loads(done.stdout)["gates"]


def test_a_threshold_passes_and_fails_per_run(tmp_path):
    fake_run(tmp_path, "a", history=history(0.5, 0.95))
    fake_run(tmp_path, "b", {"seed": 8}, history=history(0.5, 0.85))
    done = check(str(tmp_path), "--expect", "val_accuracy>=0.9", "--format", "json")
    assert done.exit_code == 1, done.output
    verdicts = sorted((g["value"], g["verdict"]) for g in gates(done))
    assert verdicts == [(0.85, "failed"), (0.95, "passed")]
    assert all(g["metric"] == "best_val_accuracy" for g in gates(done))
    assert check(str(tmp_path), "--expect", "val_accuracy>=0.8").exit_code == 0


def test_the_same_run_passes_its_own_baseline_folder_and_file(tmp_path):
    run = fake_run(tmp_path, "a", history=history(0.5, 0.95))
    assert check(str(run), "--baseline", str(run)).exit_code == 0
    saved = tmp_path / "baseline.json"
    assert check(str(run), "--save-baseline", str(saved)).exit_code == 0
    assert json.loads(saved.read_text())["format"] == "dnn-lab-baseline"
    done = check(str(run), "--baseline", str(saved), "--format", "json")
    assert done.exit_code == 0, done.output
    (gate,) = gates(done)
    assert gate["verdict"] == "passed" and gate["change"] == 0


def test_a_clearly_worse_run_regresses_against_seeds(seeds, tmp_path):
    base, _, worse = seeds
    junit = tmp_path / "check.xml"
    done = check(str(worse), "--baseline", str(base), "--junit", str(junit), "--format", "json")
    assert done.exit_code == 1, done.output
    (gate,) = gates(done)
    assert gate["verdict"] == "regressed"
    assert gate["baseline_seeds"] == 3 and gate["high"] < 0
    (case,) = [case for suite in JUnitXml.fromfile(str(junit)) for case in suite]
    assert not case.is_passed
    assert "0.5 (n=1) vs baseline 0.93 (n=3)" in case.result[0].message


def test_a_one_seed_difference_inside_the_spread_is_inconclusive(seeds, tmp_path):
    base, noisy, _ = seeds
    summary = tmp_path / "summary.md"
    done = check(
        str(noisy), "--baseline", str(base), "--markdown", str(summary), "--format", "json"
    )
    assert done.exit_code == 0, done.output
    (gate,) = gates(done)
    assert gate["verdict"] == "inconclusive"
    assert gate["low"] < 0 < gate["high"]
    assert "| ⚠️ |" in summary.read_text()
    assert check(str(noisy), "--baseline", str(base), "--strict").exit_code == 1


def test_max_drop_absolute_and_relative(seeds):
    base, _, worse = seeds
    # 0.5 against 0.93: a drop of 0.43, 46%
    assert check(str(worse), "--baseline", str(base), "--max-drop", "0.9").exit_code == 0
    assert check(str(worse), "--baseline", str(base), "--max-drop", "90%").exit_code == 0
    assert check(str(worse), "--baseline", str(base), "--max-drop", "10%").exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expect", "val_accuracy>>0.9"], "'>0.9' is not a number"),
        (["--expect", "abc"], "no comparison"),
        (["--expect", "val_acuracy>=0.9"], "did you mean 'val_accuracy'"),
        (["--max-drop", "lots", "--expect", "val_accuracy>=0.9"], "--max-drop 'lots'"),
        ([], "nothing to check"),
    ],
)
def test_bad_gates_are_one_message_and_exit_2(tmp_path, args, message):
    run = fake_run(tmp_path, "a")
    done = CliRunner().invoke(app, ["check", str(run), *args])
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert "Traceback" not in done.output


def test_a_baseline_that_is_no_baseline_is_exit_2(tmp_path):
    run = fake_run(tmp_path, "a")
    other = tmp_path / "x.json"
    other.write_text("{}")
    done = check(str(run), "--baseline", str(other))
    assert done.exit_code == 2
    assert "not a dnn-lab baseline" in done.output


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ("fifo", "is a FIFO"),
        ("folder-link", "no such file or folder"),
        ("broken-json", "not valid JSON (line 1"),
        ("huge", "over the"),
    ],
)
def test_a_baseline_file_of_any_shape_is_one_message_and_exit_2(tmp_path, shape, message):
    """The baseline is read through the same gate as every run file: no hang, no traceback."""
    import os

    run = fake_run(tmp_path, "a")
    path = tmp_path / "baseline.json"
    if shape == "fifo":
        os.mkfifo(path)
    elif shape == "folder-link":
        path.symlink_to(tmp_path / "gone")
    elif shape == "broken-json":
        path.write_text('{"format": ')
    else:
        path.write_bytes(b" " * (5 * 1024 * 1024))
    done = check(str(run), "--baseline", str(path))
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.output.split()), done.output
    assert "Traceback" not in done.output


def test_a_baseline_named_through_a_link_is_read_wherever_it_leads(tmp_path):
    run = fake_run(tmp_path / "runs", "a", history=history(0.9))
    elsewhere = tmp_path / "cache" / "baseline.json"
    elsewhere.parent.mkdir()
    assert check(str(run), "--save-baseline", str(elsewhere)).exit_code == 0
    link = tmp_path / "runs" / "baseline.json"
    link.symlink_to(elsewhere)
    done = check(str(run), "--baseline", str(link))
    assert done.exit_code == 0, done.output


def test_the_job_summary_is_appended_never_through_a_link(tmp_path, monkeypatch):
    run = fake_run(tmp_path, "a", history=history(0.9))
    elsewhere = tmp_path / "elsewhere.md"
    elsewhere.write_text("keep me\n")
    summary = tmp_path / "summary.md"
    summary.symlink_to(elsewhere)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    done = check(str(run), "--expect", "val_accuracy>=0.5")
    assert done.exit_code == 0, done.output
    assert elsewhere.read_text() == "keep me\n"
    first = summary.read_text()
    assert not summary.is_symlink() and "val_accuracy" in first
    check(str(run), "--expect", "val_accuracy>=0.5")
    assert summary.read_text() == first * 2, "appended, as each step of a job appends"


def test_the_interval_of_the_difference_by_hand():
    from dnn_lab.ci.gates import INCONCLUSIVE, REGRESSED, Tolerance, difference, judge
    from dnn_lab.direction import Direction

    # seeds on one side: their spread (s = 0.03) stands for both; t(2 df) = 4.303
    diff = difference([0.91], [0.90, 0.93, 0.96])
    assert diff.change == pytest.approx(-0.02)
    assert diff.half_width == pytest.approx(4.303 * 0.03 * (1 + 1 / 3) ** 0.5)
    assert judge(diff, Direction.MAX, Tolerance(amount=0, relative=False))[0] == INCONCLUSIVE
    # Welch on both sides (equal spreads, 3 + 3 seeds: 4 df, t = 2.776): a loss that rose
    # well beyond the spread regressed
    diff = difference([0.50, 0.52, 0.51], [0.30, 0.31, 0.29])
    assert diff.half_width == pytest.approx(2.776 * (2 * 0.01**2 / 3) ** 0.5)
    verdict, allowed = judge(diff, Direction.MIN, Tolerance(amount=0.1, relative=True))
    assert verdict == REGRESSED and allowed == pytest.approx(0.03)


def test_a_seed_run_twice_counts_once(tmp_path):
    base = tmp_path / "base"
    fake_run(base, "a", history=history(0.5, 0.90))
    fake_run(base, "b", history=history(0.5, 0.96))  # the same seed (7) again
    run = fake_run(tmp_path / "new", "c", history=history(0.5, 0.90))
    done = check(str(run), "--baseline", str(base), "--format", "json")
    (gate,) = gates(done)
    assert gate["baseline_seeds"] == 1 and gate["reference"] == 0.90
    assert gate["verdict"] == "passed"
