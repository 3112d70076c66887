"""dnn_lab.train in-process: the CLI's checks and messages, and run N+1 in the same process."""

from __future__ import annotations

import numpy as np
import pytest

import dnn_lab
from dnn_lab.store import runs
from tests.conftest import TINY, train_in_subprocess
from tests.sweeps.conftest import history


def test_two_runs_in_one_process_match_a_fresh_dnn_lab_train(make_config, tmp_path):
    config = make_config({"train": {"epochs": 3}})
    first = dnn_lab.train(config, runs_dir=tmp_path / "a", quiet=True)
    second = dnn_lab.train(config, runs_dir=tmp_path / "b", quiet=True)
    fresh = train_in_subprocess(config, tmp_path / "cli")
    assert first.status == second.status == "completed"
    assert len(history(first.path)) == 3
    assert history(first.path) == history(second.path) == history(fresh)
    # the second run trained the first one's compiled step, with its own fresh weights
    assert second.record.execution["reused_compiled_step"] == first.path.name
    assert second.timing["startup"] < 0.5  # its clock starts at the call, not the process
    assert (second.path / runs.MODEL_FILE).is_file() and (second.path / "curves.png").is_file()
    digits = np.zeros((1, 8, 8), dtype="float32")
    assert second.model().predict(digits, verbose=0).shape == (1, 10)


def test_a_dict_config_with_dotted_overrides(tmp_path):
    run = dnn_lab.train(
        {**TINY, "name": "from-dict"},
        set={"train.epochs": 1, "model.units": [8, 4]},
        runs_dir=tmp_path,
        quiet=True,
    )
    assert run.name == "from-dict" and run.status == "completed"
    assert run.config["model"]["hidden_layers"] == 2 and run.config["model"]["units"] == [8, 4]
    assert len(run.history) == 1


def test_a_config_error_names_its_key_paths_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(dnn_lab.ConfigError) as caught:
        dnn_lab.train(
            {**TINY, "model": {"units": 0}},
            set={"train.optimizr": "adam"},
            runs_dir=tmp_path / "runs",
        )
    keys = [problem.key for problem in caught.value.errors]
    assert sorted(keys) == ["model.units", "train.optimizr"]
    by_key = {problem.key: problem.message for problem in caught.value.errors}
    assert "did you mean 'train.optimizer'?" in by_key["train.optimizr"]
    assert str(caught.value).startswith("config: invalid config\n  ")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"train.loss": "binary_crossentropy"}, "train.loss"),  # digits has ten classes
        ({"model.output_activation": "relu"}, "model.output_activation"),
        ({"train.early_stopping": {"monitor": "val_f1"}}, "train.early_stopping.monitor"),
        ({"model.units.3": 8}, "model.units"),
    ],
)
def test_errors_found_beyond_the_schema_name_their_key_too(settings, key, tmp_path):
    with pytest.raises(dnn_lab.ConfigError) as caught:
        dnn_lab.train(TINY, set=settings, runs_dir=tmp_path / "runs")
    assert [problem.key for problem in caught.value.errors] == [key], str(caught.value)
    assert not (tmp_path / "runs").exists()


def test_a_file_config_error_is_the_clis_message(make_config, tmp_path):
    from typer.testing import CliRunner

    from dnn_lab.cli import app

    config = make_config({"train": {"optimizer": {"name": "adam", "learning_rate": -1}}})
    with pytest.raises(dnn_lab.ConfigError) as caught:
        dnn_lab.train(config, runs_dir=tmp_path)
    (problem,) = caught.value.errors
    assert problem.key == "train.optimizer.learning_rate"
    done = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(tmp_path)])
    assert done.exit_code == 2
    assert f"error: {caught.value}" in " ".join(done.stderr.split())


@pytest.mark.parametrize("given", [42, {"train.epochs": 1, "": 2}])
def test_bad_arguments_are_user_errors_not_exits(given, tmp_path):
    config, overrides = (given, None) if not isinstance(given, dict) else (TINY, given)
    with pytest.raises(dnn_lab.ConfigError):
        dnn_lab.train(config, set=overrides, runs_dir=tmp_path)


def test_sweep_runs_a_grid_in_workers_and_returns_its_study(tmp_path):
    from tests.sweeps.conftest import QUICK

    study = dnn_lab.sweep(
        QUICK,
        grid={"model.units": [[8], [4, 4]]},
        workers=1,
        runs_dir=tmp_path,
        name="grid",
    )
    assert study.folder is not None and (study.folder / runs.SWEEP_FILE).is_file()
    frame = study.to_pandas()
    assert sorted(frame["units"]) == ["[4,4]", "[8]"] and list(frame["n"]) == [1, 1]
    assert all(run.status == "completed" for run in study.runs)
    written = dnn_lab.report(study)
    assert {path.name for path in written} >= {"report.md", "report.html"}
    with pytest.raises(dnn_lab.DnnLabError, match="nothing to sweep") as caught:
        dnn_lab.sweep(QUICK, runs_dir=tmp_path / "none")
    assert "grid={" in str(caught.value) and "--grid" not in str(caught.value)
