"""Property: no setting's n ever exceeds the distinct seeds it trained.

Checked over generated sets of runs (repeated seeds, runs differing only by name, failed,
diverged, interrupted and still running runs, constant metrics) through the statistics,
and over generated grid, random and hyperband plans: no two trials share a setting and a
seed, so a sweep cannot make a repeated seed look like another one.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dnn_lab.analysis import study
from dnn_lab.config.schema import SweepConfig
from dnn_lab.errors import ConfigError
from dnn_lab.store import runs
from dnn_lab.store.records import MetricsRecord, RunRecord
from dnn_lab.store.status import Status
from dnn_lab.sweeps.plan import planned_trials

STATUSES = [Status.COMPLETED] * 3 + [
    Status.FAILED,
    Status.DIVERGED,
    Status.INTERRUPTED,
    Status.RUNNING,
]

run_specs = st.lists(
    st.fixed_dictionaries(
        {
            "units": st.sampled_from([4, 8, 16]),
            "seed": st.integers(0, 3),
            "name": st.sampled_from(["a", "b", "a-seed1"]),  # names never tell settings apart
            "status": st.sampled_from(STATUSES),
            "score": st.one_of(st.just(0.1), st.floats(0, 1, allow_nan=False)),
            "lr": st.sampled_from([0.01, 0.1]),
        }
    ),
    min_size=1,
    max_size=14,
)


def make_runs(specs: list[dict], vary_lr: bool) -> list[runs.Run]:
    """Runs as ``read_run`` gives them (run.json and metrics.json read back)."""
    made = []
    for i, spec in enumerate(specs):
        config = {"name": spec["name"], "seed": spec["seed"], "model": {"units": spec["units"]}}
        if vary_lr:
            config["train"] = {"optimizer": {"name": "adam", "learning_rate": spec["lr"]}}
        scores = MetricsRecord(monitor="val_accuracy", best={"val_accuracy": spec["score"]})
        record = RunRecord(status=spec["status"], config=config, seed=spec["seed"])
        made.append(runs.Run(path=Path(f"run-{i:02d}"), record=record, scores=scores))
    return made


two_constant_settings = [  # each setting's seeds all score alike: no spread, no verdict
    {"units": u, "seed": seed, "name": "a", "status": "completed", "score": s, "lr": 0.1}
    for u, s in ((4, 0.1), (8, 0.5))
    for seed in (0, 1)
]


@settings(max_examples=150, deadline=None)
@given(specs=run_specs, vary_lr=st.booleans())
@example(specs=two_constant_settings, vary_lr=False)
def test_no_settings_n_exceeds_its_distinct_seeds(specs, vary_lr):
    found = make_runs(specs, vary_lr)
    result = study.group_runs(found)
    assert sum(len(s.runs) for s in result.settings) == len(found)
    for setting in result.settings:
        completed = [r for r in setting.runs if r.status == Status.COMPLETED]
        seeds = {r.config["seed"] for r in completed}
        assert setting.n == len(seeds) <= len({r.config["seed"] for r in setting.runs})
        assert sorted(setting.seeds) == sorted(seeds)
        assert setting.n + setting.repeated == len(completed)
        assert sum(setting.others.values()) == len(setting.runs) - len(completed)
        assert all(math.isfinite(score) for score in setting.scores)
        if setting.n < 2:
            assert math.isnan(setting.half_width)
    best_two = [s for s in result.settings if s.n][:2]
    if "do not overlap" in result.verdict:
        assert len(best_two) == 2 and all(s.n >= 2 for s in best_two)
        assert best_two[0].std + best_two[1].std > 0
    if not best_two:
        assert result.verdict.startswith("no setting has a completed run")
    ranks = [row["rank"] for row in study.to_table(result).rows if row["rank"] is not None]
    assert sorted(ranks) == list(range(1, len(ranks) + 1))


@settings(max_examples=100, deadline=None)
@given(specs=run_specs)
def test_grouped_by_one_key_n_counts_distinct_runs_of_a_seed_and_config(specs):
    found = make_runs(specs, vary_lr=True)
    for setting in study.group_runs(found, by="model.units").settings:
        completed = [r for r in setting.runs if r.status == Status.COMPLETED]
        distinct = {
            (r.config["seed"], r.config["train"]["optimizer"]["learning_rate"]) for r in completed
        }
        assert setting.n == len(distinct)


# --------------------------------------------------------------------------- plans

VALUES = {
    "model.units": st.integers(1, 64),
    "train.batch_size": st.integers(1, 512),
    "model.activation": st.sampled_from(["relu", "tanh", "gelu", "elu", "selu"]),
}

grids = st.dictionaries(
    st.sampled_from(sorted(VALUES)),
    st.none(),  # the values are drawn per key below
    min_size=1,
    max_size=3,
).flatmap(
    lambda keys: st.fixed_dictionaries(
        {k: st.lists(VALUES[k], min_size=1, max_size=4, unique=True) for k in keys}
    )
)


def pairs(trials) -> list[tuple[str, int, int | None]]:
    return [(t.setting(), t.seed, t.budget) for t in trials]


@settings(max_examples=100, deadline=None)
@given(grid=grids, repeats=st.integers(1, 3), seed=st.integers(0, 50), starts=st.integers(0, 3))
def test_a_grid_never_trains_a_setting_twice_with_one_seed(grid, repeats, seed, starts):
    if starts:  # a seed axis: runs of `repeats` seeds from each start, never overlapping
        grid = {**grid, "seed": [seed + i * repeats for i in range(starts)]}
    sweep = SweepConfig.model_validate({"grid": grid, "repeats": repeats})
    trials = planned_trials(sweep, seed)
    assert len(set(pairs(trials))) == len(trials)


@settings(max_examples=60, deadline=None)
@given(grid=grids, data=st.data())
def test_a_grid_value_listed_twice_is_refused(grid, data):
    key = data.draw(st.sampled_from(sorted(grid)))
    values = grid[key]
    grid = {**grid, key: [*values, data.draw(st.sampled_from(values))]}
    sweep = SweepConfig.model_validate({"grid": grid})
    with pytest.raises(ConfigError, match=f"sweep axis {key}: the value .* is listed twice"):
        planned_trials(sweep, 0)


spaces = st.fixed_dictionaries(
    {},
    optional={
        "model.units": st.integers(1, 3).map(lambda width: {"int": [4, 4 + width]}),
        "model.activation": st.lists(
            VALUES["model.activation"], min_size=1, max_size=3, unique=True
        ).map(lambda values: {"choice": values}),
        "model.dropout": st.just({"uniform": [0.0, 0.5]}),
    },
).filter(bool)


@settings(max_examples=100, deadline=None)
@given(
    space=spaces,
    search=st.sampled_from(["random", "hyperband"]),
    trials=st.integers(1, 10),
    repeats=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_random_draws_of_one_setting_never_share_a_seed(space, search, trials, repeats, seed):
    sweep = SweepConfig.model_validate(
        {"search": search, "space": space, "trials": trials, "repeats": repeats}
    )
    planned = planned_trials(sweep, seed, epochs=9)
    assert len(planned) == trials * repeats
    assert len(set(pairs(planned))) == len(planned)
    if search == "hyperband":  # each draw's seeds stay one group, promoted together
        groups = {t.group for t in planned}
        assert len(groups) == trials
