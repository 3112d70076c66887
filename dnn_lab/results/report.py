"""A sweep's study as report.md and report.html: the table, ranking, curves and configs.

No Keras; matplotlib only for the curves it draws.
"""

from __future__ import annotations

from pathlib import Path

from dnn_lab.results import rundir as runs
from dnn_lab.results.formatting import number
from dnn_lab.results.study import Study, to_table
from dnn_lab.results.tables import render_markdown


def read_base_config(path: Path) -> str | None:
    """The sweep's base config as text for the report; None when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


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
        f"{i}. {s.label()}: {number(s.mean)}"
        + (f" +/- {number(s.std)}" if s.n > 1 else "")
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
        render_markdown(to_table(study)),
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
