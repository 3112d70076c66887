"""Fixtures of the export tests: a study of runs and a sweep, a real MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnn_lab.store import runs
from tests.conftest import fake_run
from tests.exporters.test_export import HISTORY, edit_run_json, write_sweep


@pytest.fixture
def study(tmp_path) -> Path:
    """runs/: one run on its own, and a sweep of two trials that differ in activation."""
    root = tmp_path / "runs"
    alone = fake_run(root, "20260101-100000-alone", {"name": "alone"}, history=HISTORY)
    edit_run_json(
        alone,
        backend="tensorflow",
        device={"requested": "auto", "backend": "tensorflow", "kind": "cpu", "name": "x86_64"},
        git={"commit": "abc123", "config_modified": False},
    )
    (alone / runs.SUMMARY_FILE).write_text("Model: sequential\n", encoding="utf-8")
    (alone / runs.PARAMS_FILE).write_text('{"totals": {"total": 1210}}\n', encoding="utf-8")
    (alone / runs.CURVES_FILE).write_bytes(b"\x89PNG not really")
    sweep = root / "20260102-090000-acts-sweep"
    for index, activation in enumerate(("relu", "tanh")):
        fake_run(
            sweep,
            f"20260102-09000{index}-acts-{index}",
            {"name": f"acts-{index}", "model": {"activation": activation}},
            started=f"2026-01-02T09:00:0{index}+00:00",
        )
    write_sweep(sweep)
    return root


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    """One real SQLite tracking store for the module (creating one takes seconds);
    MLflow puts artifacts under the working directory's ./mlruns, so that is a temp dir."""
    pytest.importorskip("mlflow")
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture
def store(tracking, request):
    """The store's URI and an experiment of this test's own."""
    return tracking, request.node.name[:100]
