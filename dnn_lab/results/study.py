"""Honest statistics over seeds: runs that differ only by seed become one setting.

Each setting gets the mean and standard deviation of its best validation
metric, a 95% confidence interval (Student's t), and the runs behind it. When
the best setting's interval overlaps the runner-up's, the report says the
difference is not significant at that number of seeds. No Keras here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnn_lab.results import rundir as runs
from dnn_lab.results.compare import flatten, higher_is_better, short_titles, show_value

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

_IGNORED = {"name", "seed"}  # what may differ between runs of one setting


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
    scores: list[float] = field(default_factory=list)  # best metric of each completed run
    others: dict[str, int] = field(default_factory=dict)  # runs not completed, by status

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


@dataclass
class Study:
    metric: str
    descending: bool
    settings: list[Setting]
    keys: list[str]
    verdict: str

    def best(self) -> Setting | None:
        return self.settings[0] if self.settings and self.settings[0].n else None


def _best_score(run: runs.Run, metric: str, descending: bool) -> float | None:
    best = (run.metrics.get("best") or {}).get(metric)
    if isinstance(best, (int, float)) and math.isfinite(best):
        return float(best)
    values = [r.get(metric) for r in run.history]
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return None
    return max(values) if descending else min(values)


def group_runs(found: list[runs.Run], by: str | None = None, metric: str | None = None) -> Study:
    """Group runs by every config key but the seed (or by one key), then score each group."""
    flat = [{k: v for k, v in flatten(run.config).items() if k not in _IGNORED} for run in found]
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
            {
                k
                for f in flat
                for k in f
                if any(
                    json.dumps(o.get(k), sort_keys=True) != json.dumps(f.get(k), sort_keys=True)
                    for o in flat
                )
            }
        )
    monitors = [run.metrics.get("monitor") for run in found if run.metrics.get("monitor")]
    metric = metric or (max(set(monitors), key=monitors.count) if monitors else "val_loss")
    descending = higher_is_better(metric)
    groups: dict[str, Setting] = {}
    for run, values in zip(found, flat, strict=True):
        chosen = {k: values.get(k) for k in keys}
        key = json.dumps(chosen, sort_keys=True, default=str)
        setting = groups.setdefault(key, Setting(chosen))
        setting.runs.append(run)
        score = _best_score(run, metric, descending) if run.status == runs.COMPLETED else None
        if score is None:
            setting.others[run.status] = setting.others.get(run.status, 0) + 1
        else:
            setting.scores.append(score)
    ordered = sorted(groups.values(), key=lambda s: (s.n == 0, -s.mean if descending else s.mean))
    return Study(metric, descending, ordered, keys, verdict(ordered, descending))


def verdict(settings: list[Setting], descending: bool) -> str:
    scored = [s for s in settings if s.n]
    if len(scored) < 2:
        return "only one setting has results; nothing to rank"
    best, second = scored[0], scored[1]
    if best.n < 2 or second.n < 2:
        return (
            f"{best.label()} scored highest, but with fewer than 2 seeds per setting "
            "there is no interval to judge the difference by; add --repeats"
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


# --------------------------------------------------------------------------- rendering


def rows(study: Study) -> list[dict[str, Any]]:
    titles = short_titles([f"config.{k}" for k in study.keys])
    out = []
    for rank, setting in enumerate(study.settings, start=1):
        row: dict[str, Any] = {"rank": rank if setting.n else None}
        for key in study.keys:
            row[titles[f"config.{key}"]] = show_value(setting.values.get(key))
        row.update(
            {
                "n": setting.n,
                "mean": setting.mean,
                "std": setting.std,
                "ci95_low": setting.interval[0],
                "ci95_high": setting.interval[1],
                "other": ", ".join(f"{c} {s}" for s, c in setting.others.items()),
                "runs": [str(run.path.name) for run in setting.runs],
            }
        )
        out.append(row)
    return out


def _num(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def render_table(study: Study, console) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    direction = "higher" if study.descending else "lower"
    console.print(
        f"[bold]{study.metric}[/] at each run's best epoch, over seeds ({direction} is better)",
        highlight=False,
    )
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    data = rows(study)
    keys = list(data[0]) if data else []
    for key in keys:
        if key == "runs":
            continue
        table.add_column(
            {"ci95_low": "95% CI", "ci95_high": ""}.get(key, key),
            justify="right" if key in ("rank", "n", "mean", "std", "ci95_low") else "left",
            no_wrap=True,
        )
    for row in data:
        cells = []
        for key in keys:
            if key == "runs":
                continue
            value = row[key]
            if key == "ci95_low":
                cells.append(f"{_num(value)} ..")
            elif key in ("mean", "std", "ci95_high"):
                cells.append(_num(value))
            else:
                cells.append(escape("-" if value is None else str(value)))
        table.add_row(*cells)
    console.print(table)
    console.print(study.verdict, highlight=False, soft_wrap=True)


def render_markdown(study: Study) -> str:
    data = rows(study)
    if not data:
        return "no runs\n"
    keys = [k for k in data[0] if k not in ("runs", "ci95_high")]
    titles = {"ci95_low": "95% interval"}
    lines = [
        "| " + " | ".join(titles.get(k, k) for k in keys) + " |",
        "| "
        + " | ".join("---:" if k in ("rank", "n", "mean", "std") else "---" for k in keys)
        + " |",
    ]
    for row in data:
        cells = []
        for key in keys:
            value = row[key]
            if key == "ci95_low":
                cells.append(
                    f"{_num(row['ci95_low'])} .. {_num(row['ci95_high'])}" if row["n"] >= 2 else "-"
                )
            elif key in ("mean", "std"):
                cells.append(_num(value))
            else:
                cells.append("-" if value in (None, "") else str(value).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_json(study: Study) -> str:
    payload = {
        "metric": study.metric,
        "higher_is_better": study.descending,
        "verdict": study.verdict,
        "settings": rows(study),
    }
    return json.dumps(runs.json_safe(payload), indent=2) + "\n"


def render_csv(study: Study) -> str:
    from dnn_lab.results.compare import rows_to_csv

    return rows_to_csv(rows(study))


# --------------------------------------------------------------------------- report


def write_report(
    folder: Path, study: Study, base_config: str | None, sweep_info: dict
) -> list[Path]:
    """report.md, report.html and the curves they show, in the sweep folder."""
    from dnn_lab.results.plots import plot_bands

    curves = folder / "report-curves.png"
    groups = [(s.label(), [run.history for run in s.runs if run.history]) for s in study.settings]
    plot_bands(
        [(label, histories) for label, histories in groups if histories],
        curves,
        metric=study.metric,
    )
    ranking = [
        f"{i}. {s.label()}: {_num(s.mean)}"
        + (f" +/- {_num(s.std)}" if s.n > 1 else "")
        + f" (n={s.n})"
        for i, s in enumerate((s for s in study.settings if s.n), 1)
    ]
    axes = sweep_info.get("grid") or {}
    space = sweep_info.get("space") or {}
    lines = [
        f"# Study: {sweep_info.get('name', folder.name)}",
        "",
        f"{len([r for s in study.settings for r in s.runs])} runs in {len(study.settings)} "
        f"settings; search: {sweep_info.get('search', '?')}, repeats: "
        f"{sweep_info.get('repeats', '?')} seeds per setting.",
        "",
        f"**Verdict:** {study.verdict}.",
        "",
        f"## {study.metric} at the best epoch, over seeds",
        "",
        render_markdown(study),
        "## Ranking",
        "",
        *ranking,
        "",
        "## Learning curves per setting",
        "",
        "Mean over seeds, with a band from the lowest to the highest run.",
        "",
        f"![learning curves]({curves.name})",
        "",
        "## Configs",
        "",
        "Axes: " + (", ".join(f"`{k}` in {v}" for k, v in axes.items()) or "-"),
        "",
        "Space: " + (", ".join(f"`{k}` ~ {v}" for k, v in space.items()) or "-"),
        "",
        "Every trial starts from this base config:",
        "",
        "```yaml",
        (base_config or "").rstrip(),
        "```",
        "",
    ]
    markdown = "\n".join(lines)
    runs.atomic_write_text(folder / "report.md", markdown)
    runs.atomic_write_text(folder / "report.html", _html(markdown))
    return [folder / "report.md", folder / "report.html", curves]


def _html(markdown: str) -> str:
    """A small, dependency-free rendering of the report's markdown."""
    import html

    body, table, code = [], [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            body.append("</pre>" if code else "<pre>")
            code = not code
            continue
        if code:
            body.append(html.escape(line))
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                table.append(cells)
            continue
        if table:
            head, *rest = table
            body.append(
                "<table><tr>"
                + "".join(f"<th>{_inline_html(c)}</th>" for c in head)
                + "</tr>"
                + "".join(
                    "<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>"
                    for row in rest
                )
                + "</table>"
            )
            table = []
        if line.startswith("# "):
            body.append(f"<h1>{_inline_html(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{_inline_html(line[3:])}</h2>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            body.append(
                f'<p><img src="{html.escape(src)}" alt="learning curves" '
                'style="max-width:100%"></p>'
            )
        elif line[:1].isdigit() and ". " in line[:5]:  # the ranking: an ordered list
            item = f"<li>{_inline_html(line.split('. ', 1)[1])}</li>"
            if body and body[-1].endswith("</ol>"):
                body[-1] = body[-1][: -len("</ol>")] + item + "</ol>"
            else:
                body.append(f"<ol>{item}</ol>")
        elif line.strip():
            body.append(f"<p>{_inline_html(line)}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:right}th{background:#f4f4f4}pre{background:#f6f8fa;"
        "padding:1em;overflow:auto}"
    )
    title = markdown.splitlines()[0].lstrip("# ") if markdown else "report"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _inline_html(text: str) -> str:
    import html
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)
