"""Learning curves as PNG files (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

FIGURE_SIZE = (12.0, 4.8)  # inches; at DPI below, 1200 x 480 pixels
DPI = 100


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = _metric_panels(histories)
    fig, axes = plt.subplots(1, len(panels), figsize=FIGURE_SIZE, dpi=DPI, squeeze=False)
    colours = plt.get_cmap("tab20" if len(histories) > 10 else "tab10")
    for index, (label, rows) in enumerate(histories):
        colour = colours(index % colours.N)
        epochs = [row.get("epoch") for row in rows]
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
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            loc="center right",
            fontsize=8 if len(labels) > 8 else 9,
            title="solid: validation, dashed: training",
            title_fontsize=8,
        )
        fig.tight_layout(rect=(0, 0, 0.78, 0.95 if title else 1))
    else:
        fig.tight_layout()
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def _nan(values: list[Any]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]
