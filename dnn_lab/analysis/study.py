"""Honest statistics over seeds: runs that differ only by seed become one setting.

Each setting gets the mean and standard deviation of its best validation
metric, a 95% confidence interval (Student's t), and the runs behind it. When
the best setting's interval overlaps the runner-up's, the report says the
difference is not significant at that number of seeds. A setting's n is the
number of distinct seeds it completed: a run that repeats a seed (the same
setting trained twice, or two runs that differ only by name) is the same
sample again, so its score is averaged into that seed's and counted once.
No Keras here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnn_lab.direction import Direction, best_row
from dnn_lab.render.formatting import number, short_titles, show_value
from dnn_lab.render.tables import Column, Table
from dnn_lab.store import runs
from dnn_lab.store.collect import flatten
from dnn_lab.store.status import Status

# Two-sided 95% critical values of Student's t for 1..30 degrees of freedom.
_T95 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)

NOT_A_SETTING = {"name", "seed"}  # what may differ between runs of one setting


def t_critical(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        return math.nan
    if df <= len(_T95):
        return _T95[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass
class Setting:
    """One setting (a group of runs differing only by seed) and its statistics."""

    values: dict[str, Any]  # the keys that tell settings apart
    runs: list[runs.Run] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # one per distinct completed seed
    others: dict[str, int] = field(default_factory=dict)  # runs not completed, by status
    seeds: list[Any] = field(default_factory=list)  # the seed of each score, in order
    repeated: int = 0  # completed runs of a seed already counted (not extra samples)

    @property
    def n(self) -> int:
        return len(self.scores)

    @property
    def mean(self) -> float:
        return sum(self.scores) / self.n if self.n else math.nan

    @property
    def std(self) -> float:
        if self.n < 2:
            return math.nan
        mean = self.mean
        return math.sqrt(sum((s - mean) ** 2 for s in self.scores) / (self.n - 1))

    @property
    def half_width(self) -> float:
        return t_critical(self.n - 1) * self.std / math.sqrt(self.n) if self.n >= 2 else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return (self.mean - self.half_width, self.mean + self.half_width)

    def label(self) -> str:
        return " ".join(f"{k}={show_value(v)}" for k, v in self.values.items()) or "(all runs)"


@dataclass(kw_only=True)
class Study:
    metric: str
    direction: Direction  # of the metric; settings are ordered best first
    settings: list[Setting]
    keys: list[str]
    verdict: str


def _best_score(run: runs.Run, metric: str, direction: Direction) -> float | None:
    """The run's recorded best value of ``metric``, else the best epoch of its history."""
    best = run.scores.best_value(metric)
    if best is not None:
        return best
    row = best_row(run.history, metric, direction)
    return None if row is None else float(row[metric])


def group_runs(found: list[runs.Run], by: str | None = None, metric: str | None = None) -> Study:
    """Group runs by every config key but the seed (or by one key), then score each group.

    A setting's scores are one per distinct seed: completed runs of one seed (and, with
    ``by``, of one whole config) are averaged and counted once, so n never exceeds the
    seeds the setting really trained.
    """
    configs = [flatten(run.config) for run in found]
    flat = [{k: v for k, v in f.items() if k not in NOT_A_SETTING} for f in configs]
    if by is not None:
        keys = [by]
        missing = [run.path for run, f in zip(found, flat, strict=True) if by not in f]
        if missing and len(missing) == len(found):
            from dnn_lab.errors import DnnLabError, did_you_mean

            options = sorted({k for f in flat for k in f})
            raise DnnLabError(
                f"--by {by!r}: no run has that config key" + did_you_mean(by, options)
            )
    else:
        keys = sorted(
            k
            for k in {k for f in flat for k in f}
            if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1
        )
    metric = metric or common_monitor(found)
    direction = Direction.of(metric)
    groups: dict[str, Setting] = {}
    samples: dict[str, dict[str, list[float]]] = {}  # setting -> sample -> its runs' scores
    for run, values, config in zip(found, flat, configs, strict=True):
        chosen = {k: values.get(k) for k in keys}
        key = json.dumps(chosen, sort_keys=True, default=str)
        setting = groups.setdefault(key, Setting(chosen))
        setting.runs.append(run)
        score = _best_score(run, metric, direction) if run.status == Status.COMPLETED else None
        if score is None:
            setting.others[run.status] = setting.others.get(run.status, 0) + 1
            continue
        seed = config.get("seed", run.record.seed)
        # one sample: the seed, and with --by whatever else tells two runs apart
        sample = json.dumps([seed, values] if by is not None else seed, default=str)
        samples.setdefault(key, {}).setdefault(sample, []).append(score)
    for key, setting in groups.items():
        for sample, scores in samples.get(key, {}).items():
            seed = json.loads(sample)
            setting.seeds.append(seed[0] if by is not None else seed)
            setting.scores.append(sum(scores) / len(scores))
            setting.repeated += len(scores) - 1
    ordered = best_first(list(groups.values()), direction)
    return Study(
        metric=metric, direction=direction, settings=ordered, keys=keys, verdict=verdict(ordered)
    )


def common_monitor(found: list[runs.Run]) -> str:
    """The metric most of the runs were scored by (val_loss when none says)."""
    monitors = [run.scores.monitor for run in found if run.scores.monitor]
    return max(set(monitors), key=monitors.count) if monitors else "val_loss"


def best_first(settings: list[Setting], direction: Direction) -> list[Setting]:
    """Settings with results by their mean, best first; those without any last."""
    return sorted(settings, key=lambda s: (s.n == 0, direction.sort_key(s.mean)))


def verdict(settings: list[Setting]) -> str:
    """Is the best setting (first) ahead of the runner-up by more than the seeds' noise?"""
    scored = [s for s in settings if s.n]
    if not scored:
        counts: dict[str, int] = {}
        for setting in settings:
            for status, count in setting.others.items():
                counts[status] = counts.get(status, 0) + count
        found = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return (
            "no setting has a completed run"
            + (f" ({found})" if found else "")
            + ("; nothing to rank")
        )
    if len(scored) < 2:
        return "only one setting has results; nothing to rank"
    best, second = scored[0], scored[1]
    if best.mean == second.mean:  # neither is ahead, whatever the order shows
        n = min(best.n, second.n)
        return f"{best.label()} and {second.label()} tie at a mean of {number(best.mean)}" + (
            f": the difference is not significant at {n} seeds"
            if n >= 2 and best.std + second.std > 0
            else ": nothing tells them apart"
        )
    if best.n < 2 or second.n < 2:
        return (
            f"{best.label()} scored highest, but with fewer than 2 seeds per setting "
            "there is no interval to judge the difference by; add --repeats"
        )
    if best.std == 0 and second.std == 0:  # intervals of width 0 measure no noise
        return (
            f"{best.label()} scored highest, but every seed of both it and {second.label()} "
            "scored the same (std 0), so there is no spread to judge the difference by"
        )
    low, high = best.interval
    other_low, other_high = second.interval
    overlap = low <= other_high and other_low <= high
    n = min(best.n, second.n)
    if overlap:
        return (
            f"{best.label()} is ahead of {second.label()}, but their 95% intervals overlap: "
            f"the difference is not significant at {n} seeds"
        )
    return (
        f"{best.label()} is ahead of {second.label()} and their 95% intervals do not "
        f"overlap at {n} seeds"
    )


# --------------------------------------------------------------------------- the table


def plot_study(study: Study, path: Path) -> Path:
    """Each setting's curves, mean with a min-max band over its runs; settings without history
    are left out."""
    from dnn_lab.render.plots import plot_bands

    groups = [(s.label(), [run.history for run in s.runs if run.history]) for s in study.settings]
    return plot_bands(
        [(label, histories) for label, histories in groups if histories],
        path,
        metric=study.metric,
    )


def to_table(study: Study) -> Table:
    """One row per setting, best first: the values that tell it apart and its statistics."""
    titles = short_titles([f"config.{k}" for k in study.keys])
    ranks = {id(s): i for i, s in enumerate(best_first(study.settings, study.direction), 1)}
    rows = []
    for setting in study.settings:
        row: dict[str, Any] = {"rank": ranks[id(setting)] if setting.n else None}
        for key in study.keys:
            row[titles[f"config.{key}"]] = show_value(setting.values.get(key))
        low, high = setting.interval
        row.update(
            {
                "n": setting.n,
                "mean": _defined(setting.mean),
                "std": _defined(setting.std),
                "interval": f"{number(low)} .. {number(high)}" if setting.n >= 2 else None,
                "ci95_low": _defined(low),
                "ci95_high": _defined(high),
                "other": _other(setting),
                "runs": [str(run.path.name) for run in setting.runs],
            }
        )
        rows.append(row)
    better = "higher" if study.direction.higher_is_better else "lower"
    counted = any(row["other"] for row in rows)
    return Table(
        columns=[
            Column(key="rank", title="rank", style="metric"),
            *(Column(key=titles[f"config.{k}"], title=titles[f"config.{k}"]) for k in study.keys),
            Column(key="n", title="n", style="metric"),
            Column(key="mean", title="mean", style="metric"),
            Column(key="std", title="std", style="metric"),
            Column(key="interval", title="95% interval", exported=False),
            Column(key="ci95_low", title="ci95_low", style="metric", drawn=False),
            Column(key="ci95_high", title="ci95_high", style="metric", drawn=False),
            Column(key="other", title="other", drawn=counted),
            Column(key="runs", title="runs", drawn=False),
        ],
        rows=rows,
        header={
            "metric": study.metric,
            "higher_is_better": study.direction.higher_is_better,
            "verdict": study.verdict,
        },
        rows_name="settings",
        caption=f"{study.metric} at each run's best epoch, over seeds ({better} is better)",
        footer=study.verdict,
        empty=study.verdict,
    )


def _other(setting: Setting) -> str | None:
    """What the setting ran besides its counted seeds: runs not completed, repeated seeds."""
    parts = [f"{count} {status}" for status, count in setting.others.items()]
    if setting.repeated:
        parts.append(f"{setting.repeated} repeated seed{'s' if setting.repeated > 1 else ''}")
    return ", ".join(parts) or None


def _defined(value: float) -> float | None:
    """A statistic that fewer seeds leave undefined (NaN) is shown and exported as none."""
    return value if math.isfinite(value) else None
