"""Terminal output for training and datasets (rich; plain text when piped)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dnn_lab.render.formatting import number
from dnn_lab.store import runs


def _labelled(console: Console, label: str, text: str) -> None:
    """``label`` in bold, then ``text`` as it is: paths and names are never markup."""
    line = Text(f"{label:<7}", style="bold")
    line.append(text)
    console.print(line, highlight=False, soft_wrap=True)


def print_run_header(console: Console, run_dir, data_summary: dict, totals: dict, device: dict):
    sizes = " / ".join(f"{n} {split}" for split, n in data_summary["sizes"].items())
    _labelled(console, "run", str(run_dir))
    _labelled(
        console,
        "data",
        f"{data_summary['dataset']} ({data_summary['task']}): {sizes}, "
        f"scaling {data_summary['scaling']}",
    )
    for note in data_summary.get("notes", []):  # samples left out, and why
        _labelled(console, "note", str(note))
    _labelled(
        console,
        "model",
        f"{number(totals['total'], 'count')} params "
        f"({number(totals['trainable'], 'count')} trainable), "
        f"{device['backend']} on {device['kind']} ({device['name']})",
    )


def print_training_result(console: Console, result) -> None:
    metrics = result.metrics or {}
    colour = {runs.COMPLETED: "green", runs.DIVERGED: "yellow", runs.INTERRUPTED: "yellow"}.get(
        result.status, "red"
    )
    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("metric")
    table.add_column("final", justify="right")
    table.add_column(f"best (epoch {metrics.get('best_epoch', '-')})", justify="right")
    table.add_column("test", justify="right")
    final = metrics.get("final", {})
    best = metrics.get("best", {})
    test = metrics.get("test", {})
    for key in runs.history_columns([*final, *test]):
        table.add_row(key, number(final.get(key)), number(best.get(key)), number(test.get(key)))
    if final or test:
        console.print(table)
    mc = metrics.get("mc_dropout")
    if mc and "accuracy" in mc:
        console.print(
            f"MC dropout ({mc['samples']} samples, {mc['split']}): accuracy "
            f"{number(mc['accuracy'])} (single pass {number(mc['single_draw_accuracy_mean'])} "
            f"+/- {number(mc['single_draw_accuracy_std'])}; "
            f"plain {number(mc['plain'].get('accuracy'))})",
            highlight=False,
        )
    timing = ""
    if "seconds_per_epoch" in metrics:
        per_epoch = number(metrics["seconds_per_epoch"], "short")
        timing = f" in {number(metrics.get('wall_seconds'), 'short')}s ({per_epoch}s/epoch)"
    line = Text(result.status, style=f"bold {colour}")
    line.append(f"{timing}: {result.run_dir}")
    console.print(line, highlight=False, soft_wrap=True)
    if result.message:  # an exception's text, brackets and all
        console.print(result.message, highlight=False, soft_wrap=True, markup=False)


def print_datasets(console: Console) -> None:
    from rich import box

    from dnn_lab.config.datasets import DATASETS

    wide = console.width >= 110  # the descriptions only fit on a wide terminal
    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    columns = ["dataset", "task", "samples", "shape", "classes", "scaling"]
    for column in columns + (["description"] if wide else []):
        table.add_column(
            column,
            justify="right" if column in ("samples", "classes") else "left",
            no_wrap=column != "description",
        )
    for info in DATASETS.values():
        samples = number(info.n_train, "count")
        if info.n_test:
            samples += f"+{number(info.n_test, 'count')}"
        shape = "x".join(str(d) for d in info.input_shape) if info.input_shape else "file"
        row = [
            info.name,
            info.task or "inferred",
            samples,
            shape,
            str(info.n_classes) if info.n_classes else "-",
            info.default_scaling,
        ]
        table.add_row(*row, *([info.description] if wide else []))
    console.print(table)
    console.print(
        "samples: training + the dataset's own test set; csv/parquet/npz take data.path",
        highlight=False,
        soft_wrap=True,
    )


def print_run_list(console: Console, rows: list[dict], limit: int | None = None) -> None:
    from rich import box

    if not rows:
        console.print("no runs")
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for column in ("run", "status", "started", "dataset", "epochs", "best", "path"):
        table.add_column(
            column,
            justify="right" if column in ("epochs", "best") else "left",
            no_wrap=column == "path",
        )
    for row in rows[:limit]:
        best = "-" if row["best"] is None else f"{number(row['best'])} {row['metric']}"
        # Text, not markup: brackets in a run's files are shown as they are
        table.add_row(
            Text(row["run"]),
            Text(row["status"], style="" if row["status"] == runs.COMPLETED else "yellow"),
            Text((row["started"] or "")[:19].replace("T", " ")),
            Text(row["dataset"] or "-"),
            str(row["epochs"]),
            Text(best),
            Text(row["path"]),
        )
    console.print(table)
    if limit is not None and len(rows) > limit:
        console.print(f"... and {len(rows) - limit} older runs (--all lists them)", highlight=False)
