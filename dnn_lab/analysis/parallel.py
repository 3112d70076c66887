"""Parallel coordinates as inline SVG: one line per setting across the keys and the metric.

Written by hand, not by a plotting library, so that ``report.html`` opens offline with
nothing to fetch: each swept key is a vertical axis (numbers on a linear or log scale,
anything else as evenly spaced categories), the last axis is the metric's mean over
seeds, and each line is coloured by that mean (viridis, brightest = best). Hovering a
line shows its setting. No Keras, no matplotlib.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

from dnn_lab.analysis.study import Study
from dnn_lab.direction import is_finite_number
from dnn_lab.render.formatting import number, show_value

WIDTH, HEIGHT = 1000, 440
TOP, BOTTOM, LEFT, RIGHT = 56, 40, 90, 150  # margins; the colour bar sits in the right one
MAX_CATEGORIES = 8  # a numeric axis with more distinct values is drawn to scale
# viridis at five stops, dark (worst) to bright (best)
_VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


def colour(t: float) -> str:
    """Viridis at ``t`` in [0, 1], as #rrggbb."""
    t = min(1.0, max(0.0, t)) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    f = t - i
    rgb = (round(a + (b - a) * f) for a, b in zip(_VIRIDIS[i], _VIRIDIS[i + 1], strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


@dataclass
class Axis:
    """One vertical axis: where each value sits, from 0 (bottom) to 1 (top)."""

    title: str
    values: list[Any]

    def __post_init__(self) -> None:
        numbers = [v for v in self.values if is_finite_number(v)]
        # a few values (a grid axis) read best evenly spaced, each named; many on a scale
        self.numeric = len(numbers) == len(self.values) and len(set(numbers)) > MAX_CATEGORIES
        if self.numeric:
            low, high = min(numbers), max(numbers)
            self.log = low > 0 and high / low >= 10
            self.low, self.high = (math.log10(low), math.log10(high)) if self.log else (low, high)
            self.categories: list[str] = []
        else:
            self.categories = sorted({show_value(v) for v in self.values}, key=_natural)

    def position(self, value: Any) -> float:
        if not self.numeric:
            if len(self.categories) == 1:
                return 0.5
            return self.categories.index(show_value(value)) / (len(self.categories) - 1)
        x = math.log10(value) if self.log else value
        return 0.5 if self.high == self.low else (x - self.low) / (self.high - self.low)

    def ticks(self) -> list[tuple[float, str]]:
        if not self.numeric:
            return [(self.position(c), c) for c in self.categories]

        def shown(x: float) -> str:
            return number(10**x if self.log else x)

        return [(0.0, shown(self.low)), (1.0, shown(self.high))]


def _natural(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def parallel_svg(study: Study) -> str:
    """The study's scored settings as a parallel-coordinates SVG (a string)."""
    scored = [s for s in study.settings if s.n and math.isfinite(s.mean)]
    if not scored:
        return ""
    from dnn_lab.render.formatting import short_titles

    keys = list(study.keys)
    titles = short_titles([f"config.{k}" for k in keys])
    axes = [Axis(titles[f"config.{k}"], [s.values.get(k) for s in scored]) for k in keys]
    metric_axis = Axis(f"mean {study.metric}", [s.mean for s in scored])
    metric_axis.numeric, metric_axis.log = True, False
    metric_axis.low, metric_axis.high = min(s.mean for s in scored), max(s.mean for s in scored)
    all_axes = [*axes, metric_axis]
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [
        LEFT + (inner_w * i / (len(all_axes) - 1) if len(all_axes) > 1 else inner_w / 2)
        for i in range(len(all_axes))
    ]

    def y(p: float) -> float:
        return TOP + inner_h * (1 - p)

    def goodness(mean: float) -> float:
        span = metric_axis.high - metric_axis.low
        t = 0.5 if span == 0 else (mean - metric_axis.low) / span
        return t if study.direction.higher_is_better else 1 - t

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" font-size="12">',
        f"<title>parallel coordinates: {len(scored)} settings by {html.escape(study.metric)}"
        "</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ]
    # lines: worst first, so the best are drawn on top
    for setting in sorted(scored, key=lambda s: goodness(s.mean)):
        positions = [a.position(setting.values.get(k)) for a, k in zip(axes, keys, strict=True)]
        positions.append(metric_axis.position(setting.mean))
        points = " ".join(f"{x:.1f},{y(p):.1f}" for x, p in zip(xs, positions, strict=True))
        label = html.escape(f"{setting.label()}: {number(setting.mean)} (n={setting.n})")
        best = setting is scored[0]
        out.append(
            f'<polyline class="setting" points="{points}" fill="none" '
            f'stroke="{colour(goodness(setting.mean))}" stroke-width="{4 if best else 2}" '
            f'stroke-opacity="0.85"><title>{label}</title></polyline>'
        )
    for x, axis in zip(xs, all_axes, strict=True):
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + inner_h}" '
            'stroke="#333" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{TOP - 24}" text-anchor="middle" font-weight="bold">'
            f"{html.escape(axis.title)}</text>"
        )
        if axis.numeric and axis.log:
            out.append(
                f'<text x="{x:.1f}" y="{TOP - 10}" text-anchor="middle" '
                'fill="#666" font-size="10">log scale</text>'
            )
        for p, text in axis.ticks():
            out.append(
                f'<text x="{x - 6:.1f}" y="{y(p) + 4:.1f}" text-anchor="end" '
                f'paint-order="stroke" stroke="white" stroke-width="3">{html.escape(text)}</text>'
            )
    # the colour bar
    bar_x, steps = WIDTH - RIGHT + 60, 20
    for i in range(steps):
        t = i / (steps - 1)
        value = metric_axis.low + (metric_axis.high - metric_axis.low) * t
        out.append(
            f'<rect x="{bar_x}" y="{y((i + 1) / steps):.1f}" width="16" '
            f'height="{inner_h / steps + 0.5:.1f}" fill="{colour(goodness(value))}"/>'
        )
    out.append(f'<text x="{bar_x + 22}" y="{TOP + 4}">{number(metric_axis.high)}</text>')
    out.append(f'<text x="{bar_x + 22}" y="{TOP + inner_h + 4}">{number(metric_axis.low)}</text>')
    out.append(f'<text x="{bar_x - 4}" y="{TOP - 10}">{html.escape(study.metric)}</text>')
    out.append("</svg>")
    return "\n".join(out)
