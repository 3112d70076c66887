"""The trial protocol: one request and one answer record, the same on both executors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dnn_lab.store.status import Status
from dnn_lab.store.trial_messages import TrialAnswer, TrialRequest

REQUEST = TrialRequest(
    config=Path("runs/s-sweep/base.yaml"),
    overrides=("model.units=8", "seed=7"),
    runs_dir=Path("runs/s-sweep"),
    name="s-000",
    log=Path("runs/s-sweep/logs/trial-000.log"),
    command=("dnn-lab", "train", "runs/s-sweep/base.yaml", "--set", "seed=7"),
)


def through_a_pipe(record):
    """What the other end of a worker's pipe reads: one line of JSON."""
    line = json.dumps(record.to_json())
    assert "\n" not in line
    return type(record).from_json(json.loads(line))


@pytest.mark.parametrize(
    "request_",
    [
        REQUEST,
        TrialRequest(  # as the Ray executor sends it
            **{**vars(REQUEST), "base_config_text": "name: s\n", "driver_config": REQUEST.config}
        ),
    ],
)
def test_a_request_survives_the_pipe(request_):
    assert through_a_pipe(request_) == request_


@pytest.mark.parametrize(
    "answer",
    [
        TrialAnswer(exit_code=0, status=Status.COMPLETED, run_dir=Path("runs/s-sweep/x-000")),
        TrialAnswer(exit_code=2),  # a config error: no run directory
        TrialAnswer(  # from a Ray node: the run packed, with its log
            exit_code=3,
            status=Status.DIVERGED,
            run_dir=Path("/tmp/x"),
            packed_run=b"\x1f\x8b\x00binary",
            log_bytes=b"epoch 1\n",
            node="abc123",
        ),
    ],
)
def test_an_answer_survives_the_pipe(answer):
    again = through_a_pipe(answer)
    assert again == answer
    assert again.status is None or isinstance(again.status, Status)


def test_the_json_keeps_the_words_the_worker_always_wrote():
    line = TrialAnswer(exit_code=0, status=Status.COMPLETED, run_dir=Path("r/x")).to_json()
    assert line == {"exit_code": 0, "status": "completed", "run_dir": "r/x"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "expected a JSON object"),
        ({"status": None}, "exit_code"),
        ({"exit_code": True}, "exit_code"),
        ({"exit_code": 0, "run_dir": 5}, "run_dir"),
        ({"exit_code": 0, "status": "finished"}, "finished"),
    ],
)
def test_an_answer_that_is_not_the_protocol_names_what_is_wrong(payload, field):
    with pytest.raises(ValueError, match=field):
        TrialAnswer.from_json(payload)


def test_a_request_missing_a_field_names_it():
    payload = REQUEST.to_json()
    del payload["overrides"]
    with pytest.raises(ValueError, match="overrides"):
        TrialRequest.from_json(payload)


def test_a_ray_node_trains_the_request_in_its_scratch_folder(tmp_path):
    here = REQUEST.on_node(tmp_path)
    assert (here.config, here.runs_dir, here.log) == (
        tmp_path / "base.yaml",
        tmp_path / "runs",
        tmp_path / "trial.log",
    )
    assert (here.overrides, here.name, here.command) == (
        REQUEST.overrides,
        REQUEST.name,
        REQUEST.command,
    )
