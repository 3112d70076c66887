"""Reading ``diagnostics.csv`` back and judging it: vanishing, exploding, dead, saturated.

No Keras here: ``show`` and ``compare`` read what training measured.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from dnn_lab.direction import is_finite_number
from dnn_lab.render.formatting import Style, number
from dnn_lab.store import files, runs

EXPLODING_NORM = 1e3  # a gradient norm above this is flagged as exploding
VANISHING_RATIO = 100.0  # ... and one this many times below the output layer's as vanishing
SHARE_LIMIT = 0.5

# epoch -> layer -> metric -> value, layers in the order they were written
Table = dict[int, dict[str, dict[str, float]]]


def read(run_dir: Path) -> Table:
    path = Path(run_dir) / runs.DIAGNOSTICS_FILE
    try:
        text = files.read_text(path, files.MAX_DIAGNOSTICS_BYTES)
    except (OSError, files.FileRefused):
        return {}
    table: Table = {}
    try:
        for row in csv.DictReader(io.StringIO(text)):
            layer, metric = row.get("layer"), row.get("metric")
            try:
                epoch, value = int(row["epoch"]), float(row["value"])
            except (KeyError, TypeError, ValueError, OverflowError):
                continue  # a damaged line; keep what can be read
            if isinstance(layer, str) and isinstance(metric, str):
                table.setdefault(epoch, {}).setdefault(layer, {})[metric] = value
    except csv.Error:  # a field over the csv limit, a NUL: keep the lines before it
        pass
    return table


def layers(table: Table) -> list[str]:
    names: list[str] = []
    for epoch in sorted(table):
        for name in table[epoch]:
            if name not in names:
                names.append(name)
    return names


def flags(epoch_rows: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    """What looks wrong in one epoch, per layer."""
    output = epoch_rows.get("output", {}).get("grad_norm")
    found: dict[str, list[str]] = {}
    for name, values in epoch_rows.items():
        notes = []
        norm = values.get("grad_norm")
        if norm is not None and math.isfinite(norm):
            if norm > EXPLODING_NORM:
                notes.append("exploding")
            elif name != "output" and output and output > 0 and norm < output / VANISHING_RATIO:
                notes.append("vanishing")
        elif norm is not None:
            notes.append("exploding")
        if values.get("dead_share", 0.0) > SHARE_LIMIT:
            notes.append("dead")
        if values.get("saturated_share", 0.0) > SHARE_LIMIT:
            notes.append("saturated")
        found[name] = notes
    return found


def render(table: Table, console) -> None:
    """First and last epoch side by side, per layer, with what looks wrong flagged."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    if not table:
        return
    first, last = min(table), max(table)
    grid = RichTable(
        title=f"diagnostics (probe batch; epoch {first} -> {last})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        header_style="bold",
    )
    for column in (
        "layer",
        "grad norm",
        "weight std",
        "update ratio",
        "activation mean/std",
        "dead",
        "saturated",
        "flags",
    ):
        grid.add_column(
            column, justify="left" if column in ("layer", "flags") else "right", no_wrap=True
        )
    start, end = flags(table[first]), flags(table[last])
    for name in layers(table):
        a, b = table[first].get(name, {}), table[last].get(name, {})
        notes = sorted(set(start.get(name, [])) | set(end.get(name, [])))
        grid.add_row(
            Text(name),  # Text: brackets in a damaged file are not markup
            _pair(a.get("grad_norm"), b.get("grad_norm"), "scientific"),
            _pair(a.get("weight_std"), b.get("weight_std"), "short"),
            _pair(a.get("update_ratio"), b.get("update_ratio"), "scientific"),
            f"{number(b.get('activation_mean'), 'short')} / "
            f"{number(b.get('activation_std'), 'short')}",
            _pair(a.get("dead_share"), b.get("dead_share"), "share"),
            _pair(a.get("saturated_share"), b.get("saturated_share"), "share"),
            Text(", ".join(notes), style="bold red" if notes else ""),
        )
    console.print(grid)
    console.print(
        f"vanishing: gradient norm {VANISHING_RATIO:.0f}x below the output layer's; exploding: "
        f"above {EXPLODING_NORM:g}; dead/saturated: over {number(SHARE_LIMIT, 'share')} of the "
        "units",
        highlight=False,
        soft_wrap=True,
    )


def _pair(first: float | None, last: float | None, style: Style) -> str:
    if first is None and last is None:
        return "-"
    return f"{number(first, style)} -> {number(last, style)}"


def series(table: Table, metric: str) -> dict[str, tuple[list[int], list[float]]]:
    """metric per layer across epochs: layer -> (epochs, values)."""
    found: dict[str, tuple[list[int], list[float]]] = {}
    for epoch in sorted(table):
        for name, values in table[epoch].items():
            if metric in values:
                epochs, points = found.setdefault(name, ([], []))
                epochs.append(epoch)
                points.append(values[metric])
    return found


def plot(items: list[tuple[str, Table]], path: Path, histories: list | None = None) -> Path:
    """Per run (one column each): gradient norm per layer (log scale), dead and saturated.

    With ``histories``, a first row shows each run's loss, training dashed and validation
    solid, so the diagnosis sits under the symptom.
    """
    from dnn_lab.render.plots import check_target, epoch_rows, save_figure

    check_target(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(1, len(items))
    rows = 3 if histories else 2
    fig, grid = plt.subplots(
        rows, columns, figsize=(6.0 * columns, 3.6 * rows), dpi=100, squeeze=False
    )
    axes = grid[1:] if histories else grid
    for col, history in enumerate(histories or []):
        history = epoch_rows(history)
        epochs = [row["epoch"] for row in history]
        for key, style in (("loss", "--"), ("val_loss", "-")):
            values = [row.get(key) for row in history]
            if any(v is not None for v in values):
                grid[0][col].plot(
                    epochs,
                    [v if is_finite_number(v) else math.nan for v in values],
                    style,
                    color="tab:blue",
                    label=key,
                )
        grid[0][col].set_title(f"{items[col][0]}: loss")
        grid[0][col].legend(fontsize=8)
        grid[0][col].grid(alpha=0.3)
    for col, (label, table) in enumerate(items):
        names = layers(table)
        colours = plt.get_cmap("viridis")
        for index, name in enumerate(names):
            colour = "black" if name == "output" else colours(index / max(1, len(names) - 1))
            epochs, norms = series(table, "grad_norm").get(name, ([], []))
            positive = [(e, n) for e, n in zip(epochs, norms, strict=True) if n > 0]
            if positive:
                axes[0][col].semilogy(
                    *zip(*positive, strict=True), color=colour, marker="o", markersize=3, label=name
                )
            for metric, style in (("dead_share", "-"), ("saturated_share", "--")):
                epochs, shares = series(table, metric).get(name, ([], []))
                if epochs:
                    axes[1][col].plot(
                        epochs, shares, style, color=colour, label=f"{name} {metric.split('_')[0]}"
                    )
        axes[0][col].set_title(f"{label}: gradient norm per layer")
        axes[1][col].set_title(f"{label}: dead (solid), saturated (dashed)")
        axes[1][col].set_ylim(-0.05, 1.05)
        for row in (0, 1):
            axes[row][col].set_xlabel("epoch")
            axes[row][col].grid(alpha=0.3)
            axes[row][col].xaxis.get_major_locator().set_params(integer=True)
        axes[0][col].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return save_figure(fig, path)
