"""A comparison drawn as a terminal table, markdown, CSV or JSON. No Keras."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dnn_lab.results import rundir as runs
from dnn_lab.results.collect import show_value
from dnn_lab.results.compare import Comparison
from dnn_lab.results.direction import Direction

_SPARK = "▁▂▃▄▅▆▇█"


def _best_values(comparison: Comparison) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for key in comparison.metric_columns:
        if key == "best_epoch":
            continue
        value = Direction.of(key).best(row.get(key) for row in comparison.rows)
        if value is not None:
            best[key] = value
    return best


def cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "seconds_per_epoch" and isinstance(value, float):
        return f"{value:.3f}"
    if key in ("params", "trainable") and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and not key.startswith("config."):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return show_value(value)


def sparkline(values: Sequence[float | None], width: int = 12) -> str:
    """A compact terminal chart of one metric across epochs."""
    points = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(points) < 2:
        return ""
    if len(points) > width:  # keep the last point; sample the rest evenly
        step = (len(points) - 1) / (width - 1)
        points = [points[round(i * step)] for i in range(width)]
    low, high = min(points), max(points)
    span = high - low or 1.0
    return "".join(_SPARK[min(7, int((p - low) / span * 7.999))] for p in points)


TABLE_ROWS = 25  # a terminal table of more rows is read by nobody; exports have them all


def render_table(
    comparison: Comparison, console, curves: bool = True, limit: int | None = TABLE_ROWS
) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    if comparison.skipped:
        console.print(
            "[yellow]warning:[/] not run directories, skipped: "
            + ", ".join(str(p) for p in comparison.skipped),
            soft_wrap=True,
            highlight=False,
        )
    if not comparison.rows:
        console.print("no runs to compare")
        return
    if comparison.common and len(comparison.rows) > 1:
        shared = ", ".join(
            f"{k}={show_value(v)}" for k, v in comparison.common.items() if v not in (None, [], {})
        )
        console.print(
            f"[bold]same in all {len(comparison.rows)} runs:[/] {escape(shared)}",
            highlight=False,
            soft_wrap=True,
        )
    best = _best_values(comparison)
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for key, title in comparison.columns:
        numeric = key in best or key in (
            "params",
            "trainable",
            "epochs",
            "best_epoch",
            "seconds_per_epoch",
        )
        arrow = ""
        if key == comparison.sort_key:
            arrow = " ↓" if comparison.direction is Direction.MAX else " ↑"
        is_config = key.startswith("config.")
        table.add_column(
            title.replace(" ", "\n", 1) + arrow,
            justify="right" if numeric else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=min(len(title), 12) if is_config else None,
        )
    if curves:
        table.add_column("curve", no_wrap=True)
    shown = comparison.rows if limit is None else comparison.rows[:limit]
    for row in shown:
        cells = []
        for key, _ in comparison.columns:
            style = ""
            if key in best and row.get(key) == best[key] and len(comparison.rows) > 1:
                style = "bold green"
            elif key == "status" and row["status"] != runs.COMPLETED:
                style = "yellow"
            cells.append(Text(cell(key, row.get(key)), style=style))  # Text: no markup to parse
        if curves:
            history = runs.read_history(Path(row["path"]) / runs.HISTORY_FILE)
            metric = row.get("monitor") or "val_loss"
            cells.append(Text(sparkline([h.get(metric) for h in history])))
        table.add_row(*cells)
    console.print(table)
    hidden = len(comparison.rows) - len(shown)
    if hidden:
        console.print(
            f"... and {hidden} more runs; --top N shows more, --format csv or json shows all",
            highlight=False,
        )


def render_markdown(comparison: Comparison) -> str:
    best = _best_values(comparison)
    lines = []
    if comparison.common and len(comparison.rows) > 1:
        shared = ", ".join(
            f"`{k}={show_value(v)}`"
            for k, v in comparison.common.items()
            if v not in (None, [], {})
        )
        lines += [f"Same in all {len(comparison.rows)} runs: {shared}", ""]
    titles = [title for _, title in comparison.columns]
    lines.append("| " + " | ".join(titles) + " |")
    lines.append(
        "| "
        + " | ".join(
            "---:"
            if k in best
            or k in ("params", "trainable", "epochs", "best_epoch", "seconds_per_epoch")
            else "---"
            for k, _ in comparison.columns
        )
        + " |"
    )
    for row in comparison.rows:
        cells = []
        for key, _ in comparison.columns:
            text = cell(key, row.get(key)).replace("|", "\\|")
            if key in best and row.get(key) == best[key] and len(comparison.rows) > 1:
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _export_rows(comparison: Comparison) -> list[dict[str, Any]]:
    keys = [k for k, _ in comparison.columns] + ["path"]
    return [{key: row.get(key) for key in keys} for row in comparison.rows]


def render_json(comparison: Comparison) -> str:
    """One JSON object; each run on a line of its own (greppable, and quick to write)."""
    header = {
        "sort": comparison.sort_key,
        "descending": comparison.direction is Direction.MAX,
        "common": comparison.common,
        "differing": [k[len("config.") :] for k in comparison.differing],
    }
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in runs.json_safe(header).items()]
    rows = [json.dumps(row) for row in runs.json_safe(_export_rows(comparison))]
    lines.append('  "runs": [' + ("\n    " + ",\n    ".join(rows) + "\n  " if rows else "") + "]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_csv(comparison: Comparison) -> str:
    return rows_to_csv(_export_rows(comparison))


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows of one shape as CSV: floats exact, lists and mappings as JSON, None empty."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else value
