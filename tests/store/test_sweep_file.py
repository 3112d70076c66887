"""sweep.json's checker knows exactly the fields SweepState and Trial write."""

from __future__ import annotations

import dataclasses

from dnn_lab.store import sweep_file
from dnn_lab.sweeps.state import SweepState, Trial


def _required(cls) -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


def test_the_keys_are_the_fields_of_the_records():
    written = {f.name for f in dataclasses.fields(SweepState)} - {"folder"} | {"base_config"}
    assert set(sweep_file.SWEEP_KEYS) == written
    assert set(sweep_file.SWEEP_REQUIRED) == _required(SweepState) - {"folder"}
    assert set(sweep_file.TRIAL_KEYS) == {f.name for f in dataclasses.fields(Trial)}
    assert set(sweep_file.TRIAL_REQUIRED) == _required(Trial)


def test_a_saved_sweep_has_no_problems(tmp_path):
    state = SweepState(
        folder=tmp_path,
        name="s",
        search="grid",
        grid={"a": [1, 2]},
        space={"b": {"uniform": [0, 1]}},
        repeats=1,
        planned=2,
        seed=7,
        trials=[Trial(index=0, overrides={"a": 1}, seed=7, value=0.5, group=0)],
    )
    state.save()
    assert sweep_file.read_sweep_file(tmp_path) == state.to_json()
