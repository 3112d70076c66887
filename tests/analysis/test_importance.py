"""Hyperparameter importance over a sweep's completed trials (Optuna's fANOVA)."""

from __future__ import annotations

import json
import sys

import pytest

from dnn_lab.analysis import importance
from dnn_lab.errors import DnnLabError
from tests.conftest import fake_run


def sweep_info(repeats=3, noise=0.004, grid=None, space=None, scores=None):
    """A sweep.json where model.units matters a lot and the activation hardly at all."""
    grid = (
        grid
        if grid is not None
        else {"model.units": [8, 16, 32], "model.activation": ["relu", "tanh"]}
    )
    trials = []
    for units in grid.get("model.units", [None]):
        for activation in grid.get("model.activation", [None]):
            for r in range(repeats):
                score = (scores or {}).get(units, 0.5 + units / 100 if units else 0.5)
                score += (0.001 if activation == "tanh" else 0.0) + noise * ((r * 7 + 3) % 5 - 2)
                overrides = {
                    k: v
                    for k, v in (("model.units", units), ("model.activation", activation))
                    if v is not None
                }
                trials.append(
                    {
                        "index": len(trials),
                        "overrides": overrides,
                        "seed": 7 + r,
                        "status": "completed",
                        "value": score,
                    }
                )
    return {
        "search": "grid",
        "grid": grid,
        "space": space or {},
        "repeats": repeats,
        "monitor": "val_accuracy",
        "direction": "max",
        "trials": trials,
    }


def test_the_key_that_moves_the_metric_ranks_first_for_every_seed():
    pytest.importorskip("optuna")
    found = importance.importance(sweep_info(repeats=2))
    assert [k.key for k in found.keys] == ["model.units", "model.activation"]
    units = found.keys[0]
    assert units.share > 0.9 and sum(k.share for k in found.keys) == pytest.approx(1.0)
    assert found.seeds == 2 and units.first == 2 and len(units.per_seed) == 2
    assert "ranks first for every one of 2 seeds: a stable ranking" in found.note
    table = importance.to_table(found)
    assert table.rows[0]["key"] == "model.units" and table.rows[0]["first"] == "2/2"


def test_a_ranking_that_changes_with_the_seed_is_called_unstable():
    pytest.importorskip("optuna")
    info = sweep_info(repeats=2)
    for trial in info["trials"]:  # seed 7: only the width matters; seed 8: only the activation
        units, activation = (
            trial["overrides"]["model.units"],
            trial["overrides"]["model.activation"],
        )
        trial["value"] = (
            0.5 + units / 100 if trial["seed"] == 7 else 0.5 + 0.3 * (activation == "tanh")
        )
    found = importance.importance(info)
    assert found.seeds == 2
    assert sorted(k.first for k in found.keys) == [1, 1]
    assert "unstable ranking" in found.note and "of 2 seeds" in found.note


def test_too_few_settings_say_so_instead_of_ranking_noise():
    info = sweep_info(grid={"model.units": [8, 16], "model.activation": ["relu"]})
    found = importance.importance(info)  # no Optuna needed to say so
    assert not found.enough
    assert "Too few settings" in found.note and "2 completed" in found.note


def test_a_random_sweep_over_ranges_is_ranked_too():
    pytest.importorskip("optuna")
    trials = []
    for i in range(8):
        lr = 10 ** (-4 + 3 * i / 7)
        units = 8 + (i * 5) % 24
        trials.append(
            {
                "index": i,
                "overrides": {"train.optimizer.learning_rate": lr, "model.units": units},
                "seed": 7,
                "status": "completed",
                "value": 0.5 + 0.1 * i,  # rises with the learning rate only
            }
        )
    trials.append({"index": 8, "overrides": trials[0]["overrides"], "seed": 7, "status": "failed"})
    info = {
        "search": "random",
        "grid": {},
        "space": {
            "train.optimizer.learning_rate": {"loguniform": [1e-4, 0.1]},
            "model.units": {"int": [8, 32]},
        },
        "monitor": "val_loss",
        "direction": "min",
        "trials": trials,
    }
    found = importance.importance(info)
    assert found.keys[0].key == "train.optimizer.learning_rate" and found.seeds == 0
    assert "no check of how stable" in found.note


def test_without_optuna_a_clear_message_and_exit_2(tmp_path, monkeypatch):
    from tests.sweeps.conftest import cli

    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(DnnLabError, match=r"pip install 'dnn-lab\[optuna\]'"):
        importance.importance(sweep_info())
    folder = tmp_path / "sweep"
    fake_run(folder, "run-0")
    (folder / "sweep.json").write_text(json.dumps(sweep_info()))
    result = cli("compare", folder, "--importance")
    assert result.exit_code == 2
    assert "pip install 'dnn-lab[optuna]'" in result.output


def test_compare_importance_wants_one_sweep_folder(tmp_path):
    from tests.sweeps.conftest import cli

    run = fake_run(tmp_path, "run-0")
    result = cli("compare", run, "--importance")
    assert result.exit_code == 2 and "one sweep folder" in result.output
