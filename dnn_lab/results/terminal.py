"""Terminal output for training and datasets (rich; plain text when piped)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from dnn_lab.results import rundir as runs


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        if abs(value) >= 1e5 or (0 < abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.{digits}f}"
    return str(value)


def print_run_header(console: Console, run_dir, data_summary: dict, totals: dict, device: dict):
    sizes = " / ".join(f"{n} {split}" for split, n in data_summary["sizes"].items())
    console.print(f"[bold]run[/]    {run_dir}", highlight=False, soft_wrap=True)
    console.print(
        f"[bold]data[/]   {data_summary['dataset']} ({data_summary['task']}): {sizes}, "
        f"scaling {data_summary['scaling']}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"[bold]model[/]  {totals['total']:,} params ({totals['trainable']:,} trainable), "
        f"{device['backend']} on {device['kind']} ({device['name']})",
        highlight=False,
        soft_wrap=True,
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
        table.add_row(key, fmt(final.get(key)), fmt(best.get(key)), fmt(test.get(key)))
    if final or test:
        console.print(table)
    mc = metrics.get("mc_dropout")
    if mc and "accuracy" in mc:
        console.print(
            f"MC dropout ({mc['samples']} samples, {mc['split']}): accuracy {fmt(mc['accuracy'])} "
            f"(single pass {fmt(mc['single_draw_accuracy_mean'])} "
            f"+/- {fmt(mc['single_draw_accuracy_std'])}; plain {fmt(mc['plain'].get('accuracy'))})",
            highlight=False,
        )
    timing = ""
    if "seconds_per_epoch" in metrics:
        per_epoch = fmt(metrics["seconds_per_epoch"], 3)
        timing = f" in {fmt(metrics.get('wall_seconds'), 1)}s ({per_epoch}s/epoch)"
    console.print(
        f"[bold {colour}]{result.status}[/]{timing}: {result.run_dir}",
        highlight=False,
        soft_wrap=True,
    )
    if result.message:
        console.print(result.message, highlight=False, soft_wrap=True)


def print_datasets(console: Console) -> None:
    from rich import box

    from dnn_lab.data.loaders import DATASETS

    wide = console.width >= 110  # the descriptions only fit on a wide terminal
    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    columns = ["dataset", "task", "samples", "shape", "classes", "scaling"]
    for column in columns + (["description"] if wide else []):
        table.add_column(
            column,
            justify="right" if column in ("samples", "classes") else "left",
            no_wrap=column != "description",
        )
    for dataset in DATASETS.values():
        info = dataset.info
        samples = "-" if info.n_train is None else f"{info.n_train:,}"
        if info.n_test:
            samples += f"+{info.n_test:,}"
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
        "samples: training + the dataset's own test set; csv/npz take data.path",
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
        best = "-" if row["best"] is None else f"{fmt(row['best'])} {row['metric']}"
        status = row["status"] if row["status"] == runs.COMPLETED else f"[yellow]{row['status']}[/]"
        table.add_row(
            row["run"],
            status,
            (row["started"] or "")[:19].replace("T", " "),
            row["dataset"] or "-",
            str(row["epochs"]),
            best,
            row["path"],
        )
    console.print(table)
    if limit is not None and len(rows) > limit:
        console.print(f"... and {len(rows) - limit} older runs (--all lists them)", highlight=False)
