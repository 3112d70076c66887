"""Exports that stay true: after a resume, for a copied sweep, for runs that share a folder
name, for damaged numbers and bad stores; read back with MLflow's and TensorBoard's readers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from dnn_lab.store import runs
from tests.conftest import fake_run, write_yaml
from tests.exporters.test_export import (
    HISTORY,
    accumulator,
    client_of,
    edit_run_json,
    export,
    invoke,
    mlflow_runs,
)
from tests.sweeps.conftest import QUICK, only_sweep

SWEEP_KEY = "20260102-090000-acts-sweep@2026-01-02T09:00:00+00:00"


def all_runs(store) -> list:
    """Every MLflow run of the test's experiment (two may share a dnn_lab.run_id)."""
    client = client_of(store)
    return client.search_runs([client.get_experiment_by_name(store[1]).experiment_id])


def children_of(store, parent_key: str) -> list:
    found = all_runs(store)
    (parent,) = [run.info.run_id for run in found if run.data.tags["dnn_lab.run_id"] == parent_key]
    return [run for run in found if run.data.tags.get("mlflow.parentRunId") == parent]


def test_after_a_resume_the_stale_trial_goes_and_sweep_json_is_refreshed(tmp_path, store):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = invoke(
        "sweep", config, "--grid", "model.units=4,8", "--workers", "1", "--runs-dir", tmp_path
    )
    assert result.exit_code == 0, result.output
    sweep = only_sweep(tmp_path)
    # as a Ctrl-C during trial 1 leaves it: the trial and its run interrupted
    payload = json.loads((sweep / runs.SWEEP_FILE).read_text(encoding="utf-8"))
    payload["status"] = "interrupted"
    payload["trials"][1].update(status="interrupted", value=None)
    stale = Path(payload["trials"][1]["run_dir"])
    runs.write_json(sweep / runs.SWEEP_FILE, payload)
    edit_run_json(sweep / stale.name, status="interrupted")
    # a log that is a link: the resumed trial must not write through it
    victim = tmp_path / "victim.txt"
    victim.write_text("not a log\n", encoding="utf-8")
    log = sweep / "logs" / "trial-001.log"
    log.unlink()
    log.symlink_to(victim)

    assert export(store, sweep).exit_code == 0
    sweep_key = f"{sweep.name}@{payload['created']}"
    assert len(children_of(store, sweep_key)) == 2

    result = invoke("sweep", "--resume", sweep)
    assert result.exit_code == 0, result.output
    assert victim.read_text(encoding="utf-8") == "not a log\n"
    assert log.is_file() and not log.is_symlink()
    resumed = json.loads((sweep / runs.SWEEP_FILE).read_text(encoding="utf-8"))
    fresh = Path(resumed["trials"][1]["run_dir"]).name
    assert fresh != stale.name and (sweep / stale.name).is_dir()  # the first run is kept

    result = export(store, sweep)
    assert result.exit_code == 0, result.output
    (removed,) = [line for line in result.output.splitlines() if "removed" in line]
    assert stale.name in removed and "no longer a trial of its sweep" in removed
    sweep_line = next(line for line in result.output.splitlines() if line.startswith("sweep "))
    assert "updated" in sweep_line and "+1 files" in sweep_line, sweep_line
    children = children_of(store, sweep_key)
    assert sorted(Path(run.data.tags["dnn_lab.run_dir"]).name for run in children) == sorted(
        [Path(resumed["trials"][0]["run_dir"]).name, fresh]
    )
    parent = mlflow_runs(store)[sweep_key].info.run_id
    downloaded = client_of(store).download_artifacts(parent, runs.SWEEP_FILE, str(tmp_path))
    assert Path(downloaded).read_bytes() == (sweep / runs.SWEEP_FILE).read_bytes()

    again = export(store, sweep)
    assert again.exit_code == 0 and "removed" not in again.output and "(0 new)" in again.output


def test_a_copied_sweep_is_a_parent_with_children_of_its_own(study, store):
    sweep = study / "20260102-090000-acts-sweep"
    assert export(store, sweep).exit_code == 0
    copy = study / "20260102-090000-acts-copy-sweep"
    shutil.copytree(sweep, copy)
    result = export(store, copy)
    assert result.exit_code == 0, result.output
    assert export(store, sweep).exit_code == 0  # and the original once more
    assert len(all_runs(store)) == 6
    for key in (SWEEP_KEY, "20260102-090000-acts-copy-sweep@2026-01-02T09:00:00+00:00"):
        children = children_of(store, key)
        assert sorted(run.data.params["model.activation"] for run in children) == [
            "relu",
            "tanh",
        ], key


def test_two_runs_with_one_folder_name_stay_two_tensorboard_runs(tmp_path):
    pytest.importorskip("tensorboard")
    first = fake_run(tmp_path / "a", "20260101-100000-same", history=HISTORY)
    second = fake_run(
        tmp_path / "b",
        "20260101-100000-same",
        history=HISTORY[:2],
        started="2026-01-05T10:00:00+00:00",
    )
    logdir = tmp_path / "tb"
    for run_dir in (first, second, first):
        result = invoke("export", "tensorboard", run_dir, "--logdir", logdir)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in logdir.iterdir() if p.is_dir()) == [
        "20260101-100000-same",
        "20260101-100000-same-2",
    ]
    assert len(accumulator(logdir / "20260101-100000-same").Tensors("loss")) == 3
    assert len(accumulator(logdir / "20260101-100000-same-2").Tensors("loss")) == 2


def test_nan_seconds_in_the_history_export_to_both(tmp_path, store):
    history = [{**row, "seconds": float("nan")} for row in HISTORY]
    run_dir = fake_run(tmp_path / "runs", "20260101-100000-nan", history=history)
    result = export(store, run_dir)
    assert result.exit_code == 0, result.output
    (run,) = mlflow_runs(store).values()
    losses = client_of(store).get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in losses) == [1, 2, 3]
    pytest.importorskip("tensorboard")
    result = invoke("export", "tensorboard", run_dir, "--logdir", tmp_path / "tb")
    assert result.exit_code == 0, result.output


def test_a_tracking_uri_mlflow_cannot_use_is_exit_2_with_the_reason(study, tmp_path):
    pytest.importorskip("mlflow")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    plain = tmp_path / "notes.txt"
    plain.write_text("not a store\n", encoding="utf-8")
    cases = {
        "garbage://x": "MLflow has no 'garbage' store",
        f"sqlite:///{folder}": "is not a file; sqlite:///FILE names an SQLite database file",
        f"sqlite:///{tmp_path}/no/such/mlflow.db": "no folder",
        str(plain): "is a file, not a tracking store",
        f"file://{plain}": "is a file, not a tracking store",
    }
    for uri, reason in cases.items():
        started = time.monotonic()
        result = invoke("export", "mlflow", study, "--tracking-uri", uri)
        assert result.exit_code == 2, (uri, result.output)
        assert reason in result.output, (uri, result.output)
        assert isinstance(result.exception, SystemExit), uri  # no traceback
        assert time.monotonic() - started < 20, uri  # MLflow's retries never start


def test_files_linked_outside_or_to_devices_are_not_uploaded(tmp_path, store):
    run_dir = fake_run(tmp_path / "runs", "20260101-100000-links")
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:secret\n", encoding="utf-8")
    (run_dir / runs.CONFIG_FILE).unlink()
    (run_dir / runs.CONFIG_FILE).symlink_to(secret)
    (run_dir / runs.CURVES_FILE).symlink_to("/dev/zero")
    (run_dir / runs.SUMMARY_FILE).write_text("Model: sequential\n", encoding="utf-8")
    result = export(store, run_dir)
    assert result.exit_code == 0, result.output
    assert f"not uploaded: {run_dir / runs.CONFIG_FILE}: links to {secret}" in result.output
    assert f"not uploaded: {run_dir / runs.CURVES_FILE}: links to /dev/zero" in result.output
    (run,) = mlflow_runs(store).values()
    artifacts = {item.path for item in client_of(store).list_artifacts(run.info.run_id)}
    assert artifacts == {runs.SUMMARY_FILE}


def test_a_changed_file_is_uploaded_again(tmp_path, store):
    run_dir = fake_run(tmp_path / "runs", "20260101-100000-edited")
    (run_dir / runs.SUMMARY_FILE).write_text("Model: the first summary\n", encoding="utf-8")
    assert export(store, run_dir).exit_code == 0
    (run_dir / runs.SUMMARY_FILE).write_text("Model: the second summary\n", encoding="utf-8")
    result = export(store, run_dir)
    assert result.exit_code == 0 and "updated" in result.output and "+1 files" in result.output
    (run,) = mlflow_runs(store).values()
    path = client_of(store).download_artifacts(run.info.run_id, runs.SUMMARY_FILE, str(tmp_path))
    assert Path(path).read_text(encoding="utf-8") == "Model: the second summary\n"
