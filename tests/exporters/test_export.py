"""dnn-lab export: runs into MLflow and TensorBoard, read back with their own readers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.store import runs
from tests.conftest import fake_run

HISTORY = [
    {"epoch": e, "loss": 1.0 / e, "accuracy": 0.3 + 0.2 * e, "val_loss": 1.2 / e,
     "val_accuracy": 0.2 + 0.2 * e, "lr": 0.001, "seconds": 0.5}
    for e in (1, 2, 3)
]  # fmt: skip


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def edit_run_json(run_dir: Path, **changes) -> None:
    info = json.loads((run_dir / runs.RUN_FILE).read_text(encoding="utf-8"))
    info.update(changes)
    runs.write_json(run_dir / runs.RUN_FILE, info)


def write_sweep(folder: Path, name: str = "acts") -> Path:
    runs.write_json(
        folder / runs.SWEEP_FILE,
        {
            "name": name,
            "search": "grid",
            "grid": {"model.activation": ["relu", "tanh"]},
            "space": {},
            "repeats": 1,
            "planned": 2,
            "seed": 7,
            "status": "completed",
            "created": "2026-01-02T09:00:00+00:00",
            "trials": [],
        },
    )
    (folder / "base.yaml").write_text("name: acts\n", encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- MLflow


def export(store, *args):
    uri, experiment = store
    return invoke("export", "mlflow", *args, "--tracking-uri", uri, "--experiment", experiment)


def mlflow_runs(store) -> dict[str, object]:
    from mlflow.tracking import MlflowClient

    uri, experiment = store
    client = MlflowClient(tracking_uri=uri)
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return {run.data.tags["dnn_lab.run_id"]: run for run in found}


def client_of(store):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store[0])


def test_mlflow_export_reads_back_with_mlflows_client(study, store):
    result = export(store, study)
    assert result.exit_code == 0, result.output
    assert f"4 runs in experiment {store[1]!r} (4 new)" in result.output

    client = client_of(store)
    found = mlflow_runs(store)
    assert len(found) == 4
    alone = found["20260101-100000-alone@2026-01-01T10:00:00+00:00"]
    run_id = alone.info.run_id
    assert alone.info.run_name == "alone" and alone.info.status == "FINISHED"
    # the config as dotted params
    params = alone.data.params
    assert params["model.activation"] == "relu"
    assert params["train.epochs"] == "2" and params["seed"] == "7"
    assert params["model.units"] == "16" and params["data.dataset"] == "digits"
    # every epoch, step = epoch
    history = client.get_metric_history(run_id, "val_accuracy")
    assert [(m.step, round(m.value, 6)) for m in history] == [(1, 0.4), (2, 0.6), (3, 0.8)]
    assert len(client.get_metric_history(run_id, "lr")) == 3
    # final and best
    metrics = alone.data.metrics
    assert metrics["best_val_accuracy"] == pytest.approx(0.8)
    assert metrics["final_val_loss"] == pytest.approx(0.4)
    assert metrics["best_epoch"] == 3
    # tags
    tags = alone.data.tags
    assert tags["dnn_lab.status"] == "completed"
    assert tags["dnn_lab.seed"] == "7"
    assert tags["dnn_lab.backend"] == "tensorflow" and tags["dnn_lab.device"] == "cpu"
    assert tags["dnn_lab.git_commit"] == "abc123"
    assert tags["mlflow.source.git.commit"] == "abc123"
    assert tags["dnn_lab.run_dir"] == str((study / "20260101-100000-alone").resolve())
    assert tags["dnn_lab.exported_with"]
    # files
    artifacts = {item.path for item in client.list_artifacts(run_id)}
    assert artifacts == {"config.yaml", "summary.txt", "params.json", "curves.png"}
    # the sweep is a parent run, its trials are child runs
    parent = found["20260102-090000-acts-sweep@2026-01-02T09:00:00+00:00"]
    assert parent.data.tags["dnn_lab.kind"] == "sweep"
    assert parent.data.params["grid.model.activation"] == '["relu","tanh"]'
    assert {item.path for item in client.list_artifacts(parent.info.run_id)} == {
        "base.yaml",
        "sweep.json",
    }
    children = [run for run in found.values() if run.data.tags.get("mlflow.parentRunId")]
    assert sorted(run.data.params["model.activation"] for run in children) == ["relu", "tanh"]
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert "mlflow.parentRunId" not in alone.data.tags


def test_exporting_twice_duplicates_nothing(study, store):
    for _ in range(2):
        result = export(store, study)
        assert result.exit_code == 0, result.output
    assert "(0 new)" in result.output and "up to date" in result.output
    client = client_of(store)
    found = mlflow_runs(store)
    assert len(found) == 4
    for run in found.values():
        artifacts = [item.path for item in client.list_artifacts(run.info.run_id)]
        assert len(artifacts) == len(set(artifacts))
        for key in run.data.metrics:
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert len(steps) == len(set(steps)), (key, steps)


def test_a_trial_exported_alone_is_still_its_sweeps_child(study, store):
    sweep = study / "20260102-090000-acts-sweep"
    assert export(store, sweep / "20260102-090001-acts-1").exit_code == 0
    assert export(store, sweep).exit_code == 0
    found = mlflow_runs(store)
    assert len(found) == 3  # the sweep and its two trials, once each
    parent = found["20260102-090000-acts-sweep@2026-01-02T09:00:00+00:00"].info.run_id
    children = [run for run in found.values() if run.data.tags.get("dnn_lab.kind") != "sweep"]
    assert [run.data.tags.get("mlflow.parentRunId") for run in children] == [parent, parent]


def test_a_run_that_went_on_gets_only_its_new_epochs(tmp_path, store):
    root = tmp_path / "runs"
    run_dir = fake_run(root, "20260103-100000-live", history=HISTORY[:1], status="running")
    assert export(store, run_dir).exit_code == 0
    (only,) = mlflow_runs(store).values()
    assert only.info.status == "RUNNING"

    runs.atomic_write_text(run_dir / runs.HISTORY_FILE, runs.history_to_csv(HISTORY))
    edit_run_json(run_dir, status="completed", ended="2026-01-03T10:05:00+00:00")
    result = export(store, run_dir)
    assert result.exit_code == 0, result.output
    assert "updated" in result.output
    (again,) = mlflow_runs(store).values()
    assert again.info.run_id == only.info.run_id
    assert again.info.status == "FINISHED" and again.data.tags["dnn_lab.status"] == "completed"
    history = client_of(store).get_metric_history(again.info.run_id, "loss")
    assert sorted(m.step for m in history) == [1, 2, 3]


def test_mlflows_limits_many_params_and_long_values(tmp_path, store):
    from dnn_lab.exporters.to_mlflow import MAX_PARAM_LENGTH

    run_dir = fake_run(tmp_path / "runs", "20260104-100000-wide")
    info = json.loads((run_dir / runs.RUN_FILE).read_text(encoding="utf-8"))
    info["config"]["extra"] = {f"key{i:03d}": i for i in range(250)}  # 290 params: 3 batches
    info["config"]["note"] = "x" * 7000
    runs.write_json(run_dir / runs.RUN_FILE, info)
    result = export(store, run_dir)
    assert result.exit_code == 0, result.output
    (run,) = mlflow_runs(store).values()
    assert run.data.params["extra.key249"] == "249"
    assert len(run.data.params) > 250
    assert len(run.data.params["note"]) == MAX_PARAM_LENGTH
    assert run.data.params["note"].endswith("...")


def test_a_real_trained_run_with_its_model(trained, store):
    result = export(store, trained.run_dir, "--with-model")
    assert result.exit_code == 0, result.output
    (run,) = mlflow_runs(store).values()
    client = client_of(store)
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "summary.txt", "params.json", "curves.png", "model.keras"} <= artifacts
    assert run.data.tags["dnn_lab.backend"] == "tensorflow"
    assert run.data.tags["dnn_lab.device"]
    assert run.data.tags["dnn_lab.status"] == "completed"
    epochs = trained.metrics["epochs_run"]
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == epochs


def test_the_default_store_is_mlflow_db_here(study, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = invoke("export", "mlflow", study / "20260101-100000-alone")
    assert result.exit_code == 0, result.output
    assert (here / "mlflow.db").is_file()
    assert "1 runs in experiment 'dnn-lab' (1 new) at sqlite:///mlflow.db" in result.output


def test_without_mlflow_the_error_names_the_extra(study, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    monkeypatch.setitem(sys.modules, "mlflow.exceptions", None)
    result = invoke("export", "mlflow", study)
    assert result.exit_code == 2
    assert "pip install 'dnn-lab[mlflow]'" in result.output


def test_a_path_without_runs_is_a_user_error(tmp_path, store):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = export(store, empty)
    assert result.exit_code == 2
    assert "no run directories" in result.output
    assert not (tmp_path / "mlflow.db").exists()


# --------------------------------------------------------------------------- TensorBoard


def accumulator(folder: Path):
    from tensorboard.backend.event_processing import plugin_event_accumulator

    acc = plugin_event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    return acc


def test_tensorboard_export_reads_back_with_tensorboards_readers(study, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.plugins.hparams import metadata
    from tensorboard.util import tensor_util

    logdir = tmp_path / "tb"
    result = invoke("export", "tensorboard", study, "--logdir", logdir)
    assert result.exit_code == 0, result.output
    assert "hparams: model.activation" in result.output

    alone = accumulator(logdir / "20260101-100000-alone")
    values = [
        (event.step, round(float(tensor_util.make_ndarray(event.tensor_proto)), 6))
        for event in alone.Tensors("val_accuracy")
    ]
    assert values == [(1, 0.4), (2, 0.6), (3, 0.8)]
    assert {"loss", "accuracy", "val_loss", "lr", "best_val_accuracy"} <= set(
        alone.Tags()["tensors"]
    )
    trial = accumulator(logdir / "20260102-090000-acts-sweep" / "20260102-090001-acts-1")
    (content,) = trial.PluginTagToContent(metadata.PLUGIN_NAME).values()
    start = metadata.parse_session_start_info_plugin_data(content)
    assert start.hparams["model.activation"].string_value == "tanh"
    # the experiment: the hparams that differ and the metrics, for the HParams dashboard
    (content,) = accumulator(logdir).PluginTagToContent(metadata.PLUGIN_NAME).values()
    experiment = metadata.parse_experiment_plugin_data(content)
    assert [info.name for info in experiment.hparam_infos] == ["model.activation"]
    (domain,) = experiment.hparam_infos
    assert [v.string_value for v in domain.domain_discrete.values] == ["relu", "tanh"]
    assert domain.differs
    tags = [info.name.tag for info in experiment.metric_infos]
    assert {"val_accuracy", "val_loss", "best_val_accuracy"} <= set(tags)


def test_tensorboard_export_again_rewrites_instead_of_adding(study, tmp_path):
    pytest.importorskip("tensorboard")
    logdir = tmp_path / "tb"
    for _ in range(2):
        assert invoke("export", "tensorboard", study, "--logdir", logdir).exit_code == 0
    files = sorted(p.relative_to(logdir) for p in logdir.rglob("*") if p.is_file())
    assert len(files) == 4  # three runs and the experiment
    assert len(accumulator(logdir / "20260101-100000-alone").Tensors("loss")) == 3


def test_tensorboard_export_never_imports_tensorflow(study, tmp_path):
    pytest.importorskip("tensorboard")
    logdir = tmp_path / "tb"
    script = textwrap.dedent(
        f"""
        import sys
        from dnn_lab.exporters.to_tensorboard import export_tensorboard
        result = export_tensorboard([{str(study)!r}], {str(logdir)!r})
        assert len(result.runs) == 3, result
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print("imported:", heavy)
        sys.exit(1 if heavy else 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_tensorboard_the_error_names_the_extra(study, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto", None)
    result = invoke("export", "tensorboard", study, "--logdir", tmp_path / "tb")
    assert result.exit_code == 2
    assert "pip install 'dnn-lab[tensorboard]'" in result.output
