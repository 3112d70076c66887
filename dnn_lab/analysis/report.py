"""A sweep's study as report.md and report.html: the table, ranking, curves and configs,
what mattered (importance), the trade-offs (Pareto fronts), parallel coordinates and
every trial's status and epochs.

No Keras; matplotlib only for the curves and fronts it draws; Optuna only for the
importance, and the report says how to install it when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dnn_lab.analysis.study import Study, plot_study, to_table
from dnn_lab.errors import DnnLabError
from dnn_lab.render.formatting import number, printable
from dnn_lab.render.tables import Column, Table, render_markdown
from dnn_lab.store import files, runs

CURVES_FILE = "report-curves.png"
FRONTS_FILE = "report-pareto.png"
PARALLEL_FILE = "report-parallel.svg"


def read_base_config(path: Path) -> str | None:
    """The sweep's base config as text for the report; None when it cannot be read."""
    try:  # a link out of the sweep folder is refused: a report shows what the sweep holds
        return files.read_text(path, files.MAX_CONFIG_BYTES, errors="replace")
    except (OSError, files.FileRefused):
        return None


def write_report(
    folder: Path, study: Study, base_config: str | None, sweep_info: dict
) -> list[Path]:
    """report.md, report.html and the curves they show, in the sweep folder.

    A section that cannot be made (a plot that fails, an estimate the data does not
    allow) says why in its place; the rest of the report is still written.
    """
    ranking = [
        f"{i}. {s.label()}: {number(s.mean)}"
        + (f" +/- {number(s.std)}" if s.n > 1 else "")
        + f" (n={s.n})"
        for i, s in enumerate((s for s in study.settings if s.n), 1)
    ]
    written = [folder / "report.md", folder / "report.html"]
    svg: list[str] = []  # the parallel view, drawn inline in the HTML
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
        render_markdown(to_table(study)),
        "## Ranking",
        "",
        *ranking,
        "",
        *_section("Learning curves per setting", lambda: _curve_lines(folder, study, written)),
        *_section(
            "What mattered: hyperparameter importance", lambda: _importance_lines(sweep_info)
        ),
        *_section("Trade-offs: the Pareto fronts", lambda: _front_lines(folder, study, written)),
        *_section("Parallel coordinates", lambda: _parallel_lines(folder, study, written, svg)),
        *_section("Trials", lambda: _trial_lines(sweep_info)),
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
    # every name, value and the base config come from files: no escape sequence or bidi
    # override reaches a reader's terminal (cat report.md) or the page
    markdown = printable("\n".join(lines), newlines=True)
    runs.atomic_write_text(folder / "report.md", markdown)
    inline = {PARALLEL_FILE: svg[0]} if svg else {}
    runs.atomic_write_text(folder / "report.html", _html(markdown, inline))
    return written


def _section(title: str, build: Callable[[], list[str]]) -> list[str]:
    """A section's lines, or its title and why it could not be made."""
    try:
        return build()
    except Exception as exc:  # one section is never worth the whole report
        return [f"## {title}", "", f"Not computed: {type(exc).__name__}: {exc}.", ""]


def _curve_lines(folder: Path, study: Study, written: list[Path]) -> list[str]:
    curves = folder / CURVES_FILE
    plot_study(study, curves)
    written.append(curves)
    return [
        "## Learning curves per setting",
        "",
        "Mean over seeds, with a band from the lowest to the highest run.",
        "",
        f"![learning curves]({curves.name})",
        "",
    ]


def _front_lines(folder: Path, study: Study, written: list[Path]) -> list[str]:
    from dnn_lab.analysis import pareto

    fronts = pareto.tradeoffs(study)
    lines = ["## Trade-offs: the Pareto fronts", ""]
    if not fronts.points:
        return [*lines, "No scored settings yet.", ""]
    pareto.plot_fronts(fronts, folder / FRONTS_FILE)
    written.append(folder / FRONTS_FILE)
    return [
        *lines,
        f"Mean {study.metric} over seeds against the parameter count and the seconds per "
        "epoch. A setting is on a front when no other setting beats it on both.",
        "",
        *(f"- {line}" for line in pareto.summary(fronts).splitlines()),
        "",
        render_markdown(pareto.to_table(fronts)),
        f"![Pareto fronts]({FRONTS_FILE})",
        "",
    ]


def _parallel_lines(folder: Path, study: Study, written: list[Path], svg: list[str]) -> list[str]:
    from dnn_lab.analysis.parallel import parallel_svg

    drawn = parallel_svg(study)
    if not drawn:
        return []
    runs.atomic_write_text(folder / PARALLEL_FILE, drawn)
    written.append(folder / PARALLEL_FILE)
    svg.append(drawn)
    return [
        "## Parallel coordinates",
        "",
        f"One line per setting across the keys that differ and the mean {study.metric}, "
        "coloured by it (bright: best; the thickest line is the best setting).",
        "",
        f"![parallel coordinates]({PARALLEL_FILE})",
        "",
    ]


def _importance_lines(sweep_info: dict[str, Any]) -> list[str]:
    from dnn_lab.analysis import importance

    lines = ["## What mattered: hyperparameter importance", ""]
    try:
        found = importance.importance(sweep_info)
    except DnnLabError as exc:  # Optuna missing: the rest of the report still stands
        return [*lines, f"{exc}.", ""]
    if not found.enough:
        return [*lines, f"{found.note}.", ""]
    return [
        *lines,
        f"Share of the variance of the mean {found.metric} over seeds that each swept key "
        f"explains (Optuna's fANOVA over {found.settings} completed settings).",
        "",
        f"{found.note}.",
        "",
        render_markdown(importance.to_table(found)),
    ]


def _trial_lines(sweep_info: dict[str, Any]) -> list[str]:
    """Every trial's status and epochs, with the epochs spent in all: what the budget bought."""
    trials = [t for t in sweep_info.get("trials") or [] if isinstance(t, dict)]
    if not trials:
        return []
    epochs = sum(t.get("epochs") or 0 for t in trials)
    counts: dict[str, int] = {}
    for trial in trials:
        counts[str(trial.get("status"))] = counts.get(str(trial.get("status")), 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines = [
        "## Trials",
        "",
        f"{len(trials)} trials ({summary}) trained {epochs:,} epochs in all.",
        "",
    ]
    if sweep_info.get("search") == "hyperband":
        lines += [
            f"Successive halving: every setting trained {sweep_info.get('min_epochs', 1)} "
            f"epochs first; at each rung only the best 1/{sweep_info.get('eta', 3)} of the "
            "settings (mean over seeds) went on, the rest were pruned.",
            "",
        ]
    rows = [
        {
            "trial": t.get("index"),
            "setting": " ".join(f"{k}={v}" for k, v in (t.get("overrides") or {}).items())
            or "(base)",
            "seed": t.get("seed"),
            "status": t.get("status"),
            "epochs": t.get("epochs"),
            "value": t.get("value"),
        }
        for t in trials
    ]
    table = Table(
        columns=[
            Column(key="trial", title="trial", style="count"),
            Column(key="setting", title="setting"),
            Column(key="seed", title="seed", style="count"),
            Column(key="status", title="status"),
            Column(key="epochs", title="epochs", style="count"),
            Column(key="value", title=str(sweep_info.get("monitor") or "value"), style="metric"),
        ],
        rows=rows,
        rows_name="trials",
    )
    return [*lines, render_markdown(table)]


def _html(markdown: str, inline: dict[str, str] | None = None) -> str:
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
            alt, src = line[2 : line.index("]")], line[line.index("(") + 1 : -1]
            if (inline or {}).get(src):  # drawn in the page itself: opens offline, scales
                body.append(f'<figure class="inline">{inline[src]}</figure>')
            else:
                body.append(
                    f'<p><img src="{html.escape(src)}" alt="{html.escape(alt)}" '
                    'style="max-width:100%"></p>'
                )
        elif line[:1].isdigit() and ". " in line[:5]:  # the ranking: an ordered list
            item = f"<li>{_inline_html(line.split('. ', 1)[1])}</li>"
            if body and body[-1].endswith("</ol>"):
                body[-1] = body[-1][: -len("</ol>")] + item + "</ol>"
            else:
                body.append(f"<ol>{item}</ol>")
        elif line.startswith("- "):
            item = f"<li>{_inline_html(line[2:])}</li>"
            if body and body[-1].endswith("</ul>"):
                body[-1] = body[-1][: -len("</ul>")] + item + "</ul>"
            else:
                body.append(f"<ul>{item}</ul>")
        elif line.strip():
            body.append(f"<p>{_inline_html(line)}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:right}th{background:#f4f4f4}pre{background:#f6f8fa;"
        "padding:1em;overflow:auto}figure.inline{margin:1em 0}figure.inline svg{max-width:100%;"
        "height:auto}"
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
