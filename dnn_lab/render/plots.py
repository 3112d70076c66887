"""Learning curves as PNG files (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dnn_lab.direction import is_finite_number
from dnn_lab.errors import DnnLabError
from dnn_lab.store import files

FIGURE_SIZE = (12.0, 4.8)  # inches; at DPI below, 1200 x 480 pixels
DPI = 100
# what matplotlib's Agg canvas writes, by file extension
FORMATS = ("png", "pdf", "svg", "svgz", "jpg", "jpeg", "webp", "tif", "tiff", "eps", "ps", "pgf")


def check_target(path: Path) -> Path:
    """A plot's file name, checked before anything is drawn: a known format, a folder that exists.

    Raises:
        DnnLabError: the extension is not an image format, or the folder is missing.
    """
    path = Path(path)
    if path.suffix.lower().lstrip(".") not in FORMATS:
        raise DnnLabError(
            f"cannot write a plot to {path}: unknown image format "
            f"{path.suffix or '(no extension)'!r}; use .png, .pdf or .svg"
        )
    if not path.parent.is_dir():
        raise DnnLabError(f"cannot write a plot to {path}: no folder {path.parent}")
    return path


def _metric_panels(histories: Sequence[tuple[str, list[dict[str, Any]]]]) -> list[str]:
    """Loss first, then the first other metric the runs recorded (accuracy, mae...)."""
    keys: list[str] = []
    for _, rows in histories:
        for row in rows[:1]:
            for key in row:
                if key in ("epoch", "lr", "seconds") or key.startswith("val_") or key in keys:
                    continue
                keys.append(key)
    others = [k for k in keys if k != "loss"]
    return ["loss"] + others[:1]


def plot_curves(
    histories: Sequence[tuple[str, list[dict[str, Any]]]],
    path: Path,
    title: str | None = None,
) -> Path:
    """Overlay runs: one colour per run, training dashed, validation solid."""
    check_target(path)
    return save_figure(curves_figure(histories, title), path)


def new_figure(panels: int):
    """A figure of ``panels`` side by side, outside pyplot: drawing one never switches the
    backend of a notebook (its inline plots) or leaves a figure for pyplot to show."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    return fig, fig.subplots(1, panels, squeeze=False)


def _colours(count: int):
    import matplotlib

    return matplotlib.colormaps["tab20" if count > 10 else "tab10"]


def curves_figure(histories: Sequence[tuple[str, list[dict[str, Any]]]], title: str | None = None):
    """``plot_curves``'s figure, for a caller that shows it rather than saves it."""
    panels = _metric_panels(histories)
    fig, axes = new_figure(len(panels))
    colours = _colours(len(histories))
    for index, (label, rows) in enumerate(histories):
        colour = colours(index % colours.N)
        rows = epoch_rows(rows)
        epochs = [row["epoch"] for row in rows]
        for axis, metric in zip(axes[0], panels, strict=True):
            train = [row.get(metric) for row in rows]
            val = [row.get(f"val_{metric}") for row in rows]
            if any(v is not None for v in train):
                axis.plot(epochs, _nan(train), linestyle="--", color=colour, linewidth=1.2)
            if any(v is not None for v in val):
                axis.plot(
                    epochs, _nan(val), linestyle="-", color=colour, linewidth=1.6, label=label
                )
            elif any(v is not None for v in train):
                axis.lines[-1].set_label(label)
    for axis, metric in zip(axes[0], panels, strict=True):
        _epoch_axis(axis, metric)
    _legend_right(fig, axes, "solid: validation\ndashed: training", 0.8, top=0.95 if title else 1.0)
    if title:
        fig.suptitle(title)
    return fig


def _epoch_axis(axis, title: str) -> None:
    axis.set_title(title)
    axis.set_xlabel("epoch")
    axis.grid(alpha=0.3)
    axis.xaxis.get_major_locator().set_params(integer=True)


def _legend_right(fig, axes, title: str, right: float, top: float = 1.0) -> None:
    """One legend for the figure, in a column of its own right of the panels.

    The margins are fixed rather than found by ``tight_layout``, which lays the figure
    out once more before it is drawn (about 0.1 s, paid by every run's curves.png).
    """
    fig.subplots_adjust(left=0.05, right=right - 0.015, bottom=0.1, top=top - 0.07, wspace=0.16)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if not handles:
        return
    fig.legend(
        handles,
        labels,
        loc="center left",
        bbox_to_anchor=(right, 0.5),
        fontsize=8 if len(labels) > 8 else 9,
        frameon=False,
        title=title,
        title_fontsize=8,
    )


def save_figure(fig, path: Path) -> Path:
    import io

    suffix = Path(path).suffix.lower()
    try:
        # zlib's fastest level: the same pixels, written in a third of the time
        extra = {"pil_kwargs": {"compress_level": 1}} if suffix == ".png" else {}
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=DPI, format=suffix.lstrip(".") or None, **extra)
        # through the store's gate: a link at the figure's name is replaced, never followed
        files.atomic_write_bytes(Path(path), buffer.getvalue(), durable=False)
    except OSError as exc:  # read-only folder, full disk
        raise DnnLabError(f"cannot write a plot to {path}: {exc.strerror or exc}") from exc
    finally:
        if "matplotlib.pyplot" in sys.modules:  # a figure pyplot made (diagnostics, fronts)
            sys.modules["matplotlib.pyplot"].close(fig)
    return Path(path)


def _nan(values: list[Any]) -> list[float]:
    return [v if is_finite_number(v) else math.nan for v in values]


def epoch_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history rows a plot can place: those whose epoch is a number."""
    return [row for row in rows if is_finite_number(row.get("epoch"))]


def plot_bands(
    groups: Sequence[tuple[str, list[list[dict[str, Any]]]]],
    path: Path,
    metric: str,
) -> Path:
    """One line per setting: the mean over its runs, with a band from lowest to highest."""
    check_target(path)
    return save_figure(bands_figure(groups, metric), path)


def bands_figure(groups: Sequence[tuple[str, list[list[dict[str, Any]]]]], metric: str):
    """``plot_bands``'s figure, for a caller that shows it rather than saves it."""
    panels = (
        [metric]
        if metric.endswith("loss")
        else [metric, "val_loss" if metric.startswith("val_") else "loss"]
    )
    fig, axes = new_figure(len(panels))
    colours = _colours(len(groups))
    for index, (label, histories) in enumerate(groups):
        colour = colours(index % colours.N)
        for axis, key in zip(axes[0], panels, strict=True):
            by_epoch: dict[int, list[float]] = {}
            for rows in histories:
                for row in epoch_rows(rows):
                    value = row.get(key)
                    if is_finite_number(value):
                        by_epoch.setdefault(int(row["epoch"]), []).append(float(value))
            if not by_epoch:
                continue
            epochs = sorted(by_epoch)
            means = [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs]
            axis.plot(
                epochs, means, color=colour, linewidth=1.6, label=f"{label} (n={len(histories)})"
            )
            axis.fill_between(
                epochs,
                [min(by_epoch[e]) for e in epochs],
                [max(by_epoch[e]) for e in epochs],
                color=colour,
                alpha=0.15,
            )
    for axis, key in zip(axes[0], panels, strict=True):
        _epoch_axis(axis, key)
    _legend_right(fig, axes, "mean; band: lowest to highest run", 0.72)
    return fig
