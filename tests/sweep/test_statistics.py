"""Statistics over seeds and the report, on sweep folders."""

from __future__ import annotations

import json
import math

import pytest

from dnn_lab.analysis import study
from tests.conftest import fake_run
from tests.sweep.conftest import acc_history, cli


def test_t_critical_values_match_the_tables():
    assert study.t_critical(1) == pytest.approx(12.706, abs=1e-3)
    assert study.t_critical(2) == pytest.approx(4.303, abs=1e-3)
    assert study.t_critical(30) == pytest.approx(2.042, abs=1e-3)
    assert study.t_critical(60) == pytest.approx(2.000, abs=2e-3)
    assert study.t_critical(1000) == pytest.approx(1.962, abs=1e-3)


def test_setting_statistics_against_hand_computed_values():
    setting = study.Setting({"x": 1}, scores=[0.8, 0.9, 0.85])
    assert setting.mean == pytest.approx(0.85)
    assert setting.std == pytest.approx(0.05)
    assert setting.half_width == pytest.approx(4.303 * 0.05 / math.sqrt(3), abs=1e-4)
    assert setting.interval == pytest.approx((0.85 - 0.12421, 0.85 + 0.12421), abs=1e-4)


def test_grouping_over_seeds_and_the_verdict(seeded_runs):
    from dnn_lab.store.collect import collect

    found, _ = collect([seeded_runs])
    result = study.group_runs(found)
    assert result.keys == ["train.optimizer"]
    assert [s.values["train.optimizer"] for s in result.settings] == ["adam", "rmsprop", "sgd"]
    best = result.settings[0]
    assert best.n == 3 and best.mean == pytest.approx(0.91) and best.std == pytest.approx(0.01)
    assert "not significant at 3 seeds" in result.verdict  # adam vs rmsprop overlap
    by = study.group_runs(found, by="train.optimizer")
    assert len(by.settings) == 3


def test_significant_difference_is_reported(tmp_path):
    from dnn_lab.store.collect import collect

    for optimizer, values in {"adam": [0.95, 0.951, 0.949], "sgd": [0.5, 0.51, 0.49]}.items():
        for seed, value in enumerate(values):
            fake_run(
                tmp_path,
                f"{optimizer}-{seed}",
                {"name": optimizer, "seed": seed, "train": {"optimizer": optimizer}},
                acc_history(value),
            )
    result = study.group_runs(collect([tmp_path])[0])
    assert "do not overlap at 3 seeds" in result.verdict


def test_compare_groups_a_sweep_folder_and_report_writes_files(seeded_runs):
    (seeded_runs / "sweep.json").write_text(
        json.dumps({"name": "opt", "search": "grid", "grid": {"train.optimizer": []}, "repeats": 3})
    )
    (seeded_runs / "base.yaml").write_text("name: opt\n")
    result = cli("compare", seeded_runs, "--format", "json")
    payload = json.loads(result.output)
    assert payload["settings"][0]["mean"] == pytest.approx(0.91)
    assert payload["settings"][0]["n"] == 3 and len(payload["settings"][0]["runs"]) == 3
    result = cli("report", seeded_runs)
    assert result.exit_code == 0, result.output
    markdown = (seeded_runs / "report.md").read_text()
    assert "| 1 | adam | 3 | 0.9100 | 0.0100 |" in markdown
    assert "not significant at 3 seeds" in markdown and "report-curves.png" in markdown
    html = (seeded_runs / "report.html").read_text()
    assert "<table>" in html and "<img" in html and "adam" in html
    assert (seeded_runs / "report-curves.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_statistics_count_only_the_run_each_trial_records(seeded_runs):
    trials = []
    for index, optimizer in enumerate(["adam", "sgd", "rmsprop"]):
        for seed in range(3):
            run_dir = f"relative/elsewhere/{optimizer}-{seed}"  # found by name in the folder
            trials.append(
                {"index": index * 3 + seed, "overrides": {}, "seed": seed, "run_dir": run_dir}
            )
    (seeded_runs / "sweep.json").write_text(
        json.dumps({"name": "opt", "search": "grid", "repeats": 3, "trials": trials})
    )
    # a stray: adam's first trial, run again after its driver died; sweep.json does not
    # point at it, so it must not count
    fake_run(
        seeded_runs,
        "adam-0-stray",
        {"name": "adam-0", "seed": 0, "train": {"optimizer": "adam"}},
        acc_history(0.1, 0.2),
    )
    payload = json.loads(cli("compare", seeded_runs, "--format", "json").output)
    adam = next(s for s in payload["settings"] if "adam" in s.values())
    assert adam["n"] == 3 and len(adam["runs"]) == 3 and adam["mean"] == pytest.approx(0.91)
    result = cli("report", seeded_runs)
    assert result.exit_code == 0, result.output
    assert "| 1 | adam | 3 | 0.9100 | 0.0100 |" in (seeded_runs / "report.md").read_text()
