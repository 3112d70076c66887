"""Statistics over seeds and the report, on sweep folders."""

from __future__ import annotations

import json
import math

import pytest

from dnn_lab.analysis import study
from tests.conftest import fake_run
from tests.sweeps.conftest import acc_history, cli


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


def as_sweep(folder, grid=None):
    """Mark a folder of runs as a sweep (its sweep.json lists no trials: all runs count)."""
    (folder / "sweep.json").write_text(
        json.dumps({"name": "opt", "search": "grid", "grid": grid or {}, "repeats": 3})
    )
    (folder / "base.yaml").write_text("name: opt\n")
    return folder


def test_runs_that_repeat_a_seed_count_once(tmp_path):
    """The same setting trained three times with seed 0 is one seed, not three."""
    for copy, value in enumerate([0.9, 0.9, 0.9]):
        fake_run(tmp_path, f"adam-{copy}", {"seed": 0}, acc_history(value))
    fake_run(tmp_path, "adam-seed1", {"seed": 1}, acc_history(0.8))
    payload = json.loads(cli("compare", as_sweep(tmp_path), "--format", "json").output)
    (setting,) = payload["settings"]
    assert setting["n"] == 2 and setting["mean"] == pytest.approx(0.85)
    assert setting["other"] == "2 repeated seeds" and len(setting["runs"]) == 4
    shown = cli("compare", tmp_path)
    assert "2 repeated seeds" in shown.output and "do not overlap" not in shown.output


def test_two_settings_that_repeat_one_seed_get_no_verdict_of_significance(tmp_path):
    """The issue's case: three copies of seed 7 per setting used to give n=3, std 0 and
    'intervals do not overlap'."""
    for units, value in ((4, 0.5), (8, 0.6)):
        for copy in range(3):
            fake_run(tmp_path, f"u{units}-{copy}", {"model": {"units": units}}, acc_history(value))
    result = cli("compare", as_sweep(tmp_path))
    assert result.exit_code == 0, result.output
    assert "do not overlap" not in result.output
    assert "fewer than 2 seeds" in result.output and "2 repeated seeds" in result.output


def test_grouped_compare_filters_and_sorts_settings(seeded_runs):
    folder = as_sweep(seeded_runs)

    def settings(*args):
        result = cli("compare", folder, "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return [s["optimizer"] for s in json.loads(result.output)["settings"]]

    assert settings() == ["adam", "rmsprop", "sgd"]
    assert settings("--where", "train.optimizer!=sgd") == ["adam", "rmsprop"]
    assert settings("--where", "mean>0.85") == ["adam", "rmsprop"]
    assert settings("--where", "val_accuracy<0.85") == ["sgd"]  # the metric: the mean
    assert settings("--sort", "std")[0] == "adam"  # least spread first
    assert settings("--sort", "ci95_high") == ["rmsprop", "adam", "sgd"]
    assert settings("--sort", "n", "--where", "n>=3", "--top", 2) == ["adam", "rmsprop"]
    assert settings("--sort", "train.optimizer") == ["adam", "rmsprop", "sgd"]
    assert settings("--sort", "train.optimizer", "--reverse") == ["sgd", "rmsprop", "adam"]
    assert settings("--reverse") == ["sgd", "rmsprop", "adam"]
    assert settings("--top", 1) == ["adam"]
    payload = json.loads(
        cli("compare", folder, "--format", "json", "--where", "train.optimizer=sgd").output
    )
    assert payload["settings"][0]["n"] == 3  # a config filter keeps every seed of a setting
    assert "only one setting has results" in payload["verdict"]
    payload = json.loads(
        cli("compare", folder, "--format", "json", "--columns", "train.epochs").output
    )
    assert [s["train.epochs"] for s in payload["settings"]] == ["2", "2", "2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sort", "nosuch"], "--sort 'nosuch': the settings have no 'nosuch'"),
        (["--sort", "meen"], "did you mean 'mean'?"),
        (["--where", "stdd<1"], "did you mean 'std'?"),
        (["--columns", "train.epoch"], "did you mean 'train.epochs'?"),
        # a run's own score would pick the good seeds out of a setting
        (["--where", "val_loss<1"], "--ungrouped shows the runs one by one"),
    ],
)
def test_grouped_compare_refuses_a_key_it_cannot_use(seeded_runs, args, message):
    result = cli("compare", as_sweep(seeded_runs), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_compare_says_so_when_no_setting_has_results(tmp_path):
    for name, status in (("a", "failed"), ("b", "diverged"), ("c", "diverged")):
        fake_run(tmp_path, name, {"model": {"units": 4 if name == "a" else 8}}, status=status)
    result = cli("compare", as_sweep(tmp_path))
    assert result.exit_code == 0, result.output
    assert "no setting has a completed run (2 diverged, 1 failed)" in result.output
    assert "only one setting" not in result.output


def constant_sweep(folder):
    """Four settings x two seeds that all score exactly 0.1 (a metric that never moved)."""
    trials = []
    for units in (4, 8, 16, 32):
        for seed in (7, 8):
            name = f"u{units}-s{seed}"
            fake_run(folder, name, {"seed": seed, "model": {"units": units}}, acc_history(0.1))
            trials.append(
                {"index": len(trials), "overrides": {"model.units": units}, "seed": seed,
                 "status": "completed", "value": 0.1, "run_dir": name}
            )  # fmt: skip
    (folder / "sweep.json").write_text(
        json.dumps(
            {
                "name": "c",
                "search": "grid",
                "grid": {"model.units": [4, 8, 16, 32]},
                "space": {},
                "repeats": 2,
                "planned": 8,
                "seed": 7,
                "monitor": "val_accuracy",
                "direction": "max",
                "trials": trials,
            }
        )  # fmt: skip
    )
    (folder / "base.yaml").write_text("name: c\n")
    return folder


def test_a_metric_that_does_not_vary_still_gives_a_report_and_an_importance(tmp_path):
    pytest.importorskip("optuna")
    folder = constant_sweep(tmp_path)
    result = cli("compare", folder, "--importance")
    assert result.exit_code == 0, result.output
    assert "val_accuracy does not vary across the 4 completed settings" in result.output
    result = cli("report", folder)
    assert result.exit_code == 0, result.output
    markdown = (folder / "report.md").read_text()
    assert "does not vary" in markdown and "tie at a mean of 0.1000" in markdown
    assert "## Trials" in markdown and "## Configs" in markdown
    assert "is ahead of" not in markdown


def test_a_section_that_fails_is_named_and_the_rest_of_the_report_is_written(
    seeded_runs, monkeypatch
):
    """Fault injection: the fronts raise as a bug would; the report still stands."""
    from dnn_lab.analysis import pareto

    def broken(study):
        raise ValueError("no fronts today")

    monkeypatch.setattr(pareto, "tradeoffs", broken)
    result = cli("report", as_sweep(seeded_runs))
    assert result.exit_code == 0, result.output
    markdown = (seeded_runs / "report.md").read_text()
    assert "## Trade-offs: the Pareto fronts\n\nNot computed: ValueError: no fronts today." in (
        markdown
    )
    assert "## Learning curves per setting" in markdown and "## Configs" in markdown
