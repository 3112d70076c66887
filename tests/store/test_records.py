"""run.json and metrics.json as typed records: exact round trips, damage named, never raising."""

from __future__ import annotations

import json

import pytest

from dnn_lab.store import runs
from dnn_lab.store.records import MetricsRecord, RunRecord
from dnn_lab.store.status import Status
from tests.conftest import fake_run


def test_files_written_by_training_round_trip_exactly(trained):
    for name, record in ((runs.RUN_FILE, RunRecord), (runs.METRICS_FILE, MetricsRecord)):
        on_disk = json.loads((trained.run_dir / name).read_text())
        read = record.from_json(on_disk)
        assert read.problems == []
        assert list(read.to_json().items()) == list(on_disk.items())  # same keys, same order


def test_hand_written_runs_and_unknown_keys_round_trip(tmp_path):
    path = fake_run(tmp_path, "r")
    on_disk = json.loads((path / runs.RUN_FILE).read_text())
    on_disk["from_the_future"] = {"x": 1}
    read = RunRecord.from_json(on_disk)
    assert read.extra == {"from_the_future": {"x": 1}} and read.problems == []
    assert read.to_json()["from_the_future"] == {"x": 1}
    assert read.status == "completed" and read.seed == 7 and read.totals["total"] == 1210
    metrics = json.loads((path / runs.METRICS_FILE).read_text())
    assert MetricsRecord.from_json(metrics).to_json() == metrics


def test_a_run_on_a_cluster_node_records_it():
    record = RunRecord(status="running", name="x", node="gpu-07")
    assert record.to_json()["node"] == "gpu-07"
    assert RunRecord.from_json(record.to_json()).node == "gpu-07"


@pytest.mark.parametrize(
    ("record", "data", "problem"),
    [
        (RunRecord, {"status": "completed", "started": 12}, "started should be a string"),
        (RunRecord, {"status": "completed", "pid": "12"}, "pid should be an integer"),
        (RunRecord, {"status": 3}, "status should be a string"),
        (RunRecord, {"status": "completed", "command": "train x"}, "a list of strings"),
        (MetricsRecord, {"best": [0.5]}, "best should be an object of numbers; received a list"),
        (MetricsRecord, {"final": {"loss": "low"}}, "final should be an object of numbers"),
        (MetricsRecord, {"epochs_run": True}, "epochs_run should be an integer"),
        (MetricsRecord, [1, 2], "does not hold an object"),
    ],
)
def test_a_wrong_type_is_a_problem_never_an_exception(record, data, problem):
    read = record.from_json(data)
    assert any(problem in p for p in read.problems), read.problems


def test_a_run_with_a_wrong_type_reads_as_damaged_with_the_reason(tmp_path):
    path = fake_run(tmp_path, "r")
    metrics = json.loads((path / runs.METRICS_FILE).read_text())
    metrics["best"] = ["not", "an", "object"]
    runs.write_json(path / runs.METRICS_FILE, metrics)
    run = runs.read_run(path)
    assert run.status == Status.DAMAGED
    assert run.problems == ["metrics.json: best should be an object of numbers; received a list"]
    assert run.scores.best is None and run.scores.final  # the rest is still read
