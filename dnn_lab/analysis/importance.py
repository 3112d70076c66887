"""What mattered: how much of the metric's variation each swept key explains.

The completed trials of a sweep (grid, random, Optuna or hyperband alike) become an
in-memory Optuna study, one trial per setting scored by its mean over seeds, with the
distributions of the sweep's axes; Optuna's fANOVA evaluator then splits the variance
of the metric between the keys. With repeats the same is done once per seed (the
first seed of every setting, then the second...), and the spread of those estimates
and how often each key came first say how much the ranking is worth.

Optuna is an optional extra (``dnn-lab[optuna]``), imported only when an importance is
computed. No Keras here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dnn_lab.direction import Direction, is_finite_number
from dnn_lab.errors import DnnLabError
from dnn_lab.render.formatting import number
from dnn_lab.render.tables import Column, Table
from dnn_lab.store.status import Status

MIN_SETTINGS = 4  # fewer settings than this (or two per key) give noise, not an estimate
SEED_AXIS = "seed"
NEEDS_OPTUNA = "hyperparameter importance needs Optuna: pip install 'dnn-lab[optuna]'"


@dataclass(kw_only=True)
class KeyImportance:
    """One swept key: its share of the metric's variance, overall and per seed."""

    key: str
    share: float  # fANOVA's share over the settings' means (the shares sum to 1)
    per_seed: list[float] = field(default_factory=list)  # one estimate per seed
    first: int = 0  # in how many per-seed estimates it ranked first


@dataclass(kw_only=True)
class Importance:
    """A sweep's keys ranked by how much of the metric they explain, or why not."""

    metric: str
    direction: Direction
    settings: int  # settings with a completed score
    keys: list[KeyImportance]  # most important first; empty when there are too few settings
    seeds: int = 0  # per-seed estimates behind the stability columns
    note: str = ""

    @property
    def enough(self) -> bool:
        return bool(self.keys)


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def axes_of(info: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """The swept keys of a ``sweep.json`` as distributions (grid axes are choices)."""
    grid = {k: {"choice": v} for k, v in (info.get("grid") or {}).items() if k != SEED_AXIS}
    return {**grid, **(info.get("space") or {})}


def _distribution(optuna, spec: dict[str, list[Any]]):
    d = optuna.distributions
    ((kind, args),) = spec.items()
    if kind == "choice":
        return d.CategoricalDistribution(list(dict.fromkeys(_label(v) for v in args)))
    if kind == "int":
        return d.IntDistribution(int(args[0]), int(args[1]))
    return d.FloatDistribution(float(args[0]), float(args[1]), log=kind == "loguniform")


def _param(spec: dict[str, list[Any]], value: Any) -> Any:
    return _label(value) if "choice" in spec else value


def completed_settings(info: dict[str, Any]) -> list[tuple[dict[str, Any], list[float]]]:
    """(overrides, completed scores in seed order) per setting of a ``sweep.json``."""
    groups: dict[str, tuple[dict[str, Any], dict[int, list[float]]]] = {}
    for trial in info.get("trials") or []:
        if not isinstance(trial, dict) or not isinstance(trial.get("overrides"), dict):
            continue
        key = json.dumps(trial["overrides"], sort_keys=True, default=str)
        setting = groups.setdefault(key, (trial["overrides"], {}))
        value = trial.get("value")
        if trial.get("status") == Status.COMPLETED and is_finite_number(value):
            seed = trial.get("seed")
            setting[1].setdefault(seed if isinstance(seed, int) else 0, []).append(float(value))
    # one score per distinct seed: a seed trained twice is one sample, not two
    return [
        (o, [sum(v) / len(v) for _, v in sorted(seeds.items())])
        for o, seeds in groups.values()
        if seeds
    ]


def importance(info: dict[str, Any]) -> Importance:
    """Rank a sweep's keys by fANOVA importance over its completed settings.

    Args:
        info: the sweep's ``sweep.json`` as a dict (axes, monitor, direction, trials).

    Returns:
        The ranking, with per-seed spread when the sweep has repeats; no keys and a
        ``note`` saying why when there are too few settings for an estimate.

    Raises:
        DnnLabError: Optuna is not installed.
    """
    metric = info.get("monitor") or "val_loss"
    direction = Direction(info["direction"]) if info.get("direction") else Direction.of(metric)
    axes = axes_of(info)
    settings = completed_settings(info)
    keys = [
        k
        for k in axes
        if len({_label(o.get(k)) for o, _ in settings if k in o}) > 1
        and all(k in o for o, _ in settings)
    ]
    result = Importance(metric=metric, direction=direction, settings=len(settings), keys=[])
    why = (
        " (a hyperband search completes only the settings of its last rung)"
        if info.get("search") == "hyperband"
        else ""
    )
    if not keys:
        result.note = (
            "No swept key took two values among the completed settings: nothing to rank"
            if settings
            else "No completed settings: nothing to rank"
        ) + why
        return result
    needed = max(MIN_SETTINGS, 2 * len(keys))
    if len(settings) < needed:
        result.note = (
            f"Too few settings for an importance estimate: {len(settings)} completed, "
            f"{needed} needed for {len(keys)} swept key{'s' if len(keys) > 1 else ''} "
            "(anything less would rank noise)" + why
        )
        return result
    try:
        import optuna
    except ImportError:
        raise DnnLabError(NEEDS_OPTUNA) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {k: axes[k] for k in keys}
    means = [(o, sum(s) / len(s)) for o, s in settings]
    if len({score for _, score in means}) < 2:  # fANOVA divides by the variance
        result.note = (
            f"{metric} does not vary across the {len(settings)} completed settings "
            f"(every mean is {number(means[0][1])}): no key explains anything"
        )
        return result
    overall = _evaluate(optuna, space, means, direction)
    ranked = [KeyImportance(key=k, share=overall[k]) for k in keys]
    ranked.sort(key=lambda item: -item.share)
    repeats = min(len(s) for _, s in settings)
    per_seed = [
        _evaluate(optuna, space, [(o, s[r]) for o, s in settings], direction)
        for r in range(repeats if repeats > 1 else 0)
        if len({s[r] for _, s in settings}) > 1  # a seed on which nothing varies says nothing
    ]
    for estimate in per_seed:
        top = max(estimate, key=lambda k: estimate[k])
        for item in ranked:
            item.per_seed.append(estimate[item.key])
            item.first += item.key == top
    result.keys, result.seeds = ranked, len(per_seed)
    result.note = _stability(ranked, len(per_seed), len(settings))
    return result


def _evaluate(optuna, space, scored, direction: Direction) -> dict[str, float]:
    """fANOVA importances (summing to 1) of ``space``'s keys over (setting, score) pairs."""
    distributions = {k: _distribution(optuna, spec) for k, spec in space.items()}
    study = optuna.create_study(direction=direction.optuna)
    for overrides, score in scored:
        study.add_trial(
            optuna.trial.create_trial(
                params={k: _param(spec, overrides[k]) for k, spec in space.items()},
                distributions=distributions,
                value=score,
            )
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    found = optuna.importance.get_param_importances(
        study, evaluator=evaluator, params=list(space), normalize=True
    )
    return {k: float(found.get(k, 0.0)) for k in space}


def _stability(ranked: list[KeyImportance], seeds: int, settings: int) -> str:
    top = ranked[0]
    text = f"{top.key} explains the most ({number(top.share, 'share')} of the variance over "
    text += f"{settings} settings' means)"
    if seeds < 2:
        return text + "; one seed per setting, so no check of how stable the ranking is"
    if top.first == seeds:
        return text + f" and ranks first for every one of {seeds} seeds: a stable ranking"
    firsts = ", ".join(f"{k.key} {k.first}" for k in ranked if k.first)
    return (
        text
        + f", but the first key changes from seed to seed (first for {firsts} of "
        + (f"{seeds} seeds): an unstable ranking")
    )


def to_table(result: Importance) -> Table:
    """One row per key, most important first; per-seed spread when there are repeats."""
    rows = []
    for rank, item in enumerate(result.keys, 1):
        spread = (
            f"{number(min(item.per_seed), 'share')} .. {number(max(item.per_seed), 'share')}"
            if item.per_seed
            else None
        )
        rows.append(
            {
                "rank": rank,
                "key": item.key,
                "share": item.share,
                "per_seed": spread,
                "seed_shares": list(item.per_seed),
                "first": f"{item.first}/{result.seeds}" if result.seeds else None,
            }
        )
    stable = result.seeds > 1
    return Table(
        columns=[
            Column(key="rank", title="rank", style="metric"),
            Column(key="key", title="key"),
            Column(key="share", title="share of variance", style="share"),
            Column(key="per_seed", title="per seed (min .. max)", drawn=stable, exported=False),
            Column(key="seed_shares", title="seed_shares", drawn=False, exported=stable),
            Column(key="first", title="ranked first", drawn=stable),
        ],
        rows=rows,
        header={"metric": result.metric, "settings": result.settings, "note": result.note},
        rows_name="keys",
        caption=(
            f"share of the variance of {result.metric} (mean over seeds) each key explains, "
            "by Optuna's fANOVA"
        ),
        footer=result.note,
        empty=result.note or "nothing to rank",
    )
