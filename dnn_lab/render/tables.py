"""One table value, drawn on a terminal or as markdown, CSV or JSON. No Keras.

``compare`` (runs side by side) and the seed statistics (settings over seeds) each build
a ``Table``; the four renderers below draw any table, so every format of every command
shows the same cells, formatted by ``formatting.number``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnn_lab.direction import Direction, is_finite_number
from dnn_lab.render.formatting import Style, number, printable, show_value
from dnn_lab.store import runs

TABLE_ROWS = 25  # a terminal table of more rows is read by nobody; exports have them all
_SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, kw_only=True)
class Column:
    """One column: where its values come from and how they are shown."""

    key: str  # the row key; also the csv/json field name
    title: str  # the heading in the terminal table and markdown
    style: Style | None = None  # a number style; None: text, left-aligned
    best: Direction | None = None  # highlight the best value of the column
    mark: str = ""  # appended to the terminal heading (the sort arrow)
    drawn: bool = True  # in the terminal table and markdown
    exported: bool = True  # in csv and json
    plain: str | None = None  # a text value drawn plainly; any other is drawn in yellow
    terminal_only: bool = False  # drawn on the terminal only (the curve)

    def cell(self, value: Any) -> str:
        return number(value, self.style) if self.style else show_value(value)


@dataclass(kw_only=True)
class Table:
    """Rows of raw values (one dict each) and the columns that show them."""

    columns: list[Column]
    rows: list[dict[str, Any]]
    header: dict[str, Any] = field(default_factory=dict)  # json fields before the rows
    rows_name: str = "runs"  # json name of the rows
    common: dict[str, Any] = field(default_factory=dict)  # the same in every row
    caption: str | None = None  # a terminal line above the table
    footer: str | None = None  # a terminal line below it
    skipped: list[Path] = field(default_factory=list)  # paths that were not runs
    empty: str = "no runs"

    def drawn(self, terminal: bool) -> list[Column]:
        return [c for c in self.columns if c.drawn and (terminal or not c.terminal_only)]

    def best_values(self) -> dict[str, Any]:
        """The best value of each highlighted column; none when there is one row."""
        if len(self.rows) < 2:
            return {}
        best = {}
        for column in self.columns:
            if column.best is not None:
                value = column.best.best(row.get(column.key) for row in self.rows)
                if value is not None:
                    best[column.key] = value
        return best

    def common_text(self, code: bool) -> str:
        quote = "`" if code else ""
        return ", ".join(
            f"{quote}{k}={show_value(v)}{quote}"
            for k, v in self.common.items()
            if v not in (None, [], {})
        )


def sparkline(values: Sequence[float | None], width: int = 12) -> str:
    """A compact terminal chart of one metric across epochs."""
    points = [v for v in values if is_finite_number(v)]
    if len(points) < 2:
        return ""
    if len(points) > width:  # keep the last point; sample the rest evenly
        step = (len(points) - 1) / (width - 1)
        points = [points[round(i * step)] for i in range(width)]
    low, high = min(points), max(points)
    span = high - low or 1.0
    return "".join(_SPARK[min(7, int((p - low) / span * 7.999))] for p in points)


def render_table(table: Table, console, limit: int | None = TABLE_ROWS) -> None:
    """The table on a terminal (rich), its first ``limit`` rows."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table as RichTable
    from rich.text import Text

    if table.skipped:
        console.print(
            "[yellow]warning:[/] not run directories, skipped: "
            + escape(printable(", ".join(str(p) for p in table.skipped))),
            soft_wrap=True,
            highlight=False,
        )
    if table.caption:
        console.print(
            printable(table.caption, newlines=True), highlight=False, soft_wrap=True, markup=False
        )
    if not table.rows:
        console.print(table.empty)
        return
    if table.common and len(table.rows) > 1:
        console.print(
            f"[bold]same in all {len(table.rows)} runs:[/] {escape(table.common_text(False))}",
            highlight=False,
            soft_wrap=True,
        )
    best = table.best_values()
    columns = table.drawn(terminal=True)
    grid = RichTable(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for column in columns:
        grid.add_column(
            Text(printable(column.title).replace(" ", "\n", 1) + column.mark),
            justify="right" if column.style else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=min(len(column.title), 12) if column.key.startswith("config.") else None,
        )
    shown = table.rows if limit is None else table.rows[:limit]
    for row in shown:
        cells = []
        for column in columns:
            value = row.get(column.key)
            style = ""
            if column.key in best and value == best[column.key]:
                style = "bold green"
            elif column.plain is not None and value != column.plain:
                style = "yellow"
            cells.append(Text(column.cell(value), style=style))  # Text: no markup to parse
        grid.add_row(*cells)
    console.print(grid)
    hidden = len(table.rows) - len(shown)
    if hidden:
        console.print(
            f"... and {hidden} more runs; --top N shows more, --format csv or json shows all",
            highlight=False,
        )
    if table.footer:
        console.print(
            printable(table.footer, newlines=True), highlight=False, soft_wrap=True, markup=False
        )


def render_markdown(table: Table) -> str:
    if not table.rows:
        return f"{table.empty}\n"
    best = table.best_values()
    columns = table.drawn(terminal=False)
    lines = []
    if table.common and len(table.rows) > 1:
        lines += [f"Same in all {len(table.rows)} runs: {table.common_text(True)}", ""]
    lines.append("| " + " | ".join(printable(c.title).replace("|", "\\|") for c in columns) + " |")
    lines.append("| " + " | ".join("---:" if c.style else "---" for c in columns) + " |")
    for row in table.rows:
        cells = []
        for column in columns:
            value = row.get(column.key)
            text = column.cell(value).replace("|", "\\|")
            if column.key in best and value == best[column.key]:
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def export_rows(table: Table) -> list[dict[str, Any]]:
    """The raw values of the exported columns: what csv and json hold."""
    keys = [c.key for c in table.columns if c.exported]
    return [{key: row.get(key) for key in keys} for row in table.rows]


def render_json(table: Table) -> str:
    """One JSON object; each row on a line of its own (greppable, and quick to write)."""
    lines = ["{"]
    lines += [
        f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in runs.json_safe(table.header).items()
    ]
    rows = [json.dumps(row) for row in runs.json_safe(export_rows(table))]
    body = "\n    " + ",\n    ".join(rows) + "\n  " if rows else ""
    lines.append(f"  {json.dumps(table.rows_name)}: [" + body + "]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_csv(table: Table) -> str:
    """Exported columns as CSV: floats exact, lists and mappings as JSON, None empty."""
    rows = export_rows(table)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: runs.csv_value(v) for k, v in row.items()})
    return buffer.getvalue()
