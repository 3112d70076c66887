"""Trade-offs: the settings no other setting beats on both the metric and a cost.

A setting's metric is its mean over seeds (as in the seed statistics); its costs are
its parameter count and its mean seconds per epoch. A setting is on the Pareto front
of a cost when no other setting is at least as good on both the metric and that cost
and better on one. No Keras; matplotlib only inside :func:`plot_fronts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnn_lab.analysis.study import Setting, Study
from dnn_lab.direction import Direction, is_finite_number
from dnn_lab.render.formatting import number, show_value
from dnn_lab.render.tables import Column, Table

# The costs a setting is traded against, each minimized: (key, title in tables and plots).
COSTS = {"params": "params", "seconds_per_epoch": "s/epoch"}


@dataclass(kw_only=True)
class Point:
    """One setting's metric and costs."""

    setting: Setting
    metric: float
    costs: dict[str, float | None]
    fronts: list[str] = field(default_factory=list)  # the costs whose front it is on

    def label(self) -> str:
        return self.setting.label()


@dataclass(kw_only=True)
class Tradeoffs:
    metric: str
    direction: Direction
    points: list[Point]  # ordered as the study's settings: best metric first
    keys: list[str]

    def front(self, cost: str) -> list[Point]:
        """The front of one cost, cheapest first."""
        on = [p for p in self.points if cost in p.fronts]
        return sorted(on, key=lambda p: p.costs[cost])


def _costs(setting: Setting) -> dict[str, float | None]:
    totals = [r.totals.get("total") for r in setting.runs if r.totals.get("total") is not None]
    seconds = [
        r.scores.seconds_per_epoch
        for r in setting.runs
        if is_finite_number(r.scores.seconds_per_epoch)
    ]
    return {
        "params": totals[0] if totals else None,
        "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
    }


def dominates(a: tuple[float, float], b: tuple[float, float], direction: Direction) -> bool:
    """Is (metric, cost) ``a`` at least as good as ``b`` on both and better on one?"""
    metric_ok = a[0] == b[0] or direction.better(a[0], b[0])
    return metric_ok and a[1] <= b[1] and (a[0] != b[0] or a[1] != b[1])


def pareto_front(pairs: list[tuple[float, float]], direction: Direction) -> list[bool]:
    """For each (metric, cost) pair: is it on the front (dominated by no other pair)?"""
    return [
        not any(dominates(other, pair, direction) for j, other in enumerate(pairs) if j != i)
        for i, pair in enumerate(pairs)
    ]


def tradeoffs(study: Study) -> Tradeoffs:
    """Each scored setting's metric and costs, and which fronts it is on."""
    points = [
        Point(setting=s, metric=s.mean, costs=_costs(s))
        for s in study.settings
        if s.n and math.isfinite(s.mean)
    ]
    for cost in COSTS:
        known = [p for p in points if p.costs[cost] is not None]
        marks = pareto_front([(p.metric, p.costs[cost]) for p in known], study.direction)
        for point, on in zip(known, marks, strict=True):
            if on:
                point.fronts.append(cost)
    return Tradeoffs(metric=study.metric, direction=study.direction, points=points, keys=study.keys)


def to_table(result: Tradeoffs) -> Table:
    """One row per setting, best metric first, with its costs and the fronts it is on."""
    from dnn_lab.render.formatting import short_titles

    titles = short_titles([f"config.{k}" for k in result.keys])
    rows = []
    for point in result.points:
        row: dict[str, Any] = {
            titles[f"config.{k}"]: show_value(point.setting.values.get(k)) for k in result.keys
        }
        row.update(
            {
                "mean": point.metric,
                "params": point.costs["params"],
                "seconds_per_epoch": point.costs["seconds_per_epoch"],
                "front": ", ".join(COSTS[c] for c in point.fronts) or None,
            }
        )
        rows.append(row)
    return Table(
        columns=[
            *(Column(key=titles[f"config.{k}"], title=titles[f"config.{k}"]) for k in result.keys),
            Column(key="mean", title=f"mean {result.metric}", style="metric"),
            Column(key="params", title="params", style="count"),
            Column(key="seconds_per_epoch", title="s/epoch", style="short"),
            Column(key="front", title="on the front of"),
        ],
        rows=rows,
        header={"metric": result.metric, "higher_is_better": result.direction.higher_is_better},
        rows_name="settings",
        caption=(
            f"mean {result.metric} over seeds against each cost; 'on the front of' marks the "
            "settings no other beats on both"
        ),
        footer=summary(result),
        empty="no scored settings",
    )


def summary(result: Tradeoffs) -> str:
    """One line per cost: its front, cheapest first."""
    lines = []
    for cost, title in COSTS.items():
        front = result.front(cost)
        if not front:
            continue
        steps = "; ".join(
            f"{p.label()} ({number(p.metric)} at {_cost_text(cost, p.costs[cost])})" for p in front
        )
        lines.append(f"front against {title}: {steps}")
    return "\n".join(lines) or "no setting recorded its costs"


def _cost_text(cost: str, value: float | None) -> str:
    if cost == "params":
        return f"{number(value, 'count')} params"
    return f"{number(value, 'short')} s/epoch"


def plot_fronts(result: Tradeoffs, path: Path) -> Path:
    """A scatter per cost (metric against it), the front marked and joined, as an image."""
    from dnn_lab.render.plots import DPI, FIGURE_SIZE, check_target, save_figure

    check_target(path)  # before matplotlib's import (a second or so) for a bad name
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(COSTS), figsize=FIGURE_SIZE, dpi=DPI)
    for axis, (cost, title) in zip(axes, COSTS.items(), strict=True):
        known = [p for p in result.points if p.costs[cost] is not None]
        rest = [p for p in known if cost not in p.fronts]
        axis.scatter(
            [p.costs[cost] for p in rest],
            [p.metric for p in rest],
            color="#9aa5b1",
            label="dominated",
        )
        front = result.front(cost)
        axis.plot(
            [p.costs[cost] for p in front],
            [p.metric for p in front],
            color="#d62728",
            marker="o",
            drawstyle="steps-post",
            label="Pareto front",
        )
        for point in front:
            axis.annotate(
                point.label(),
                (point.costs[cost], point.metric),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=7,
            )
        if (
            cost == "params"
            and known
            and max(p.costs[cost] for p in known) > 10 * max(1, min(p.costs[cost] for p in known))
        ):
            axis.set_xscale("log")
        axis.set_xlabel(f"{title} (lower is better)")
        better = "higher" if result.direction.higher_is_better else "lower"
        axis.set_ylabel(f"mean {result.metric} ({better} is better)")
        axis.set_title(f"{result.metric} against {title}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return save_figure(fig, Path(path))
