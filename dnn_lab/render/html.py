"""A ``Table`` as HTML, and images inlined, for notebooks (``_repr_html_``). No Keras.

The HTML shows the cells the terminal table shows (``render_table``): the same columns,
the best value of a column in bold green, an unusual status in yellow, the curve as a
sparkline. Images are ``data:`` URIs, so a saved notebook shows them anywhere (GitHub
included) without the run directory beside it.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from dnn_lab.render.tables import Table

_BEST = "font-weight:bold;color:#1a7f37"
_UNUSUAL = "color:#9a6700"


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def table_html(table: Table, limit: int | None = None) -> str:
    """The table as one ``<table>``: a caption, the rows, the values common to all."""
    parts = ['<div class="dnn-lab">']
    if table.caption:
        parts.append(f"<p>{escape(table.caption)}</p>")
    if not table.rows:
        parts.append(f"<p>{escape(table.empty)}</p></div>")
        return "".join(parts)
    best = table.best_values()
    columns = table.drawn(terminal=True)
    parts.append("<table><thead><tr>")
    for column in columns:
        align = "right" if column.style else "left"
        title = escape(column.title + column.mark)
        parts.append(f'<th style="text-align:{align}">{title}</th>')
    parts.append("</tr></thead><tbody>")
    shown = table.rows if limit is None else table.rows[:limit]
    for row in shown:
        parts.append("<tr>")
        for column in columns:
            value = row.get(column.key)
            style = "text-align:right" if column.style else "text-align:left"
            if column.key in best and value == best[column.key]:
                style += ";" + _BEST
            elif column.plain is not None and value != column.plain:
                style += ";" + _UNUSUAL
            parts.append(f'<td style="{style}">{escape(column.cell(value))}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table>")
    hidden = len(table.rows) - len(shown)
    if hidden:
        parts.append(f"<p>... and {hidden} more rows</p>")
    if table.common and len(table.rows) > 1:
        parts.append(
            f"<p><b>same in all {len(table.rows)} runs:</b> {escape(table.common_text(False))}</p>"
        )
    if table.footer:
        parts.append(f"<p>{escape(table.footer)}</p>")
    parts.append("</div>")
    return "".join(parts)


def png_file_uri(path: Path) -> str | None:
    """A PNG file as a ``data:`` URI; None when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure_uri(figure) -> str:
    """A matplotlib figure as a PNG ``data:`` URI (the figure is closed: it was drawn)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_html(uri: str | None, alt: str) -> str:
    if uri is None:
        return ""
    return f'<img src="{uri}" alt="{escape(alt)}" style="max-width:640px"/>'


def key_values_html(pairs: list[tuple[str, Any]]) -> str:
    """A two-column table of labels and values (a run's headline metrics, its parameters)."""
    rows = "".join(
        f'<tr><th style="text-align:left">{escape(k)}</th>'
        f'<td style="text-align:right">{escape(v)}</td></tr>'
        for k, v in pairs
    )
    return f"<table>{rows}</table>"
