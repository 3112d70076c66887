"""One run in detail: model, parameters, history, metrics and environment. No Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from dnn_lab.errors import RunDirError
from dnn_lab.results import rundir as runs
from dnn_lab.results.formatting import number, show_value


def load(path: Path) -> runs.Run:
    path = Path(path)
    if not runs.is_run_dir(path):
        raise RunDirError(
            f"{path} is not a run directory (no {runs.RUN_FILE} or {runs.HISTORY_FILE} in it)"
        )
    return runs.read_run(path)


def render(run: runs.Run, console: Console) -> None:
    status = run.status
    colour = "green" if status == runs.COMPLETED else "yellow"
    console.print(
        f"[bold]{run.name}[/]  [{colour}]{status}[/]  {run.path}", highlight=False, soft_wrap=True
    )
    if run.info.get("message"):
        console.print(run.info["message"], highlight=False, soft_wrap=True)
    for problem in run.problems:
        console.print(f"[yellow]damaged:[/] {problem}", highlight=False, soft_wrap=True)
    summary = run.path / runs.SUMMARY_FILE
    if summary.exists():
        console.print(
            summary.read_text(encoding="utf-8", errors="replace").rstrip(),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    _parameters(run, console)
    _history(run, console)
    _metrics(run, console)
    from dnn_lab.results import diagnostics as diagnosis

    diagnosis.render(diagnosis.read(run.path), console)
    _environment(run, console)


def plot(run: runs.Run, path: Path) -> Path:
    """This run's learning curves; with diagnostics, gradient flow and unit health beneath."""
    from dnn_lab.results import diagnostics as diagnosis

    table = diagnosis.read(run.path)
    if table:
        return diagnosis.plot([(run.name, table)], path, histories=[run.history])
    from dnn_lab.results.plots import plot_curves

    return plot_curves([(run.name, run.history)], path, title=run.name)


def _parameters(run: runs.Run, console: Console) -> None:
    layers = run.params.get("layers")
    if not layers:
        return
    table = Table(
        title="parameters", box=box.SIMPLE_HEAD, header_style="bold", title_justify="left"
    )
    for column in ("layer", "class", "output", "trainable", "non-trainable", "formula"):
        table.add_column(
            column, justify="right" if "train" in column else "left", no_wrap=column != "class"
        )
    for layer in layers:
        shape = (
            "(" + ", ".join("None" if d is None else str(d) for d in layer["output_shape"]) + ")"
        )
        name = layer["name"] + (" (frozen)" if layer.get("frozen") else "")
        table.add_row(
            name,
            layer["class"],
            shape,
            number(layer["trainable"], "count"),
            number(layer["non_trainable"], "count"),
            layer.get("formula", ""),
        )
    totals = run.params.get("totals", {})
    table.add_row(
        "total",
        "",
        "",
        number(totals.get("trainable", 0), "count"),
        number(totals.get("non_trainable", 0), "count"),
        f"{number(totals.get('total', 0), 'count')} in all",
        style="bold",
    )
    console.print(table)


def _history(run: runs.Run, console: Console) -> None:
    rows = run.history
    if not rows:
        console.print("no epochs recorded")
        return
    keys = runs.history_columns([k for row in rows for k in row])
    best = run.metrics.get("best_epoch")
    table = Table(title="history", box=box.SIMPLE_HEAD, header_style="bold", title_justify="left")
    for key in keys:
        table.add_column(key, justify="right")
    for row in rows:
        style = "bold green" if row.get("epoch") == best else None
        table.add_row(*[_history_cell(key, row.get(key)) for key in keys], style=style)
    console.print(table)


def _history_cell(key: str, value: Any) -> str:
    return number(value, "short" if key == "seconds" else "metric")


def _metrics(run: runs.Run, console: Console) -> None:
    metrics = run.metrics
    if not metrics:
        return
    lines = []
    if "best_epoch" in metrics:
        lines.append(
            f"best epoch {metrics['best_epoch']} by {metrics.get('monitor')}: "
            + _pairs(metrics.get("best", {}))
        )
    if metrics.get("final"):
        lines.append(f"final (epoch {metrics.get('epochs_run')}): " + _pairs(metrics["final"]))
    if metrics.get("test"):
        lines.append("test: " + _pairs(metrics["test"]))
    if "kept_epoch" in metrics:
        stopped = "stopped early" if metrics.get("early_stopped") else "ran every epoch"
        lines.append(f"early stopping: {stopped}, weights of epoch {metrics['kept_epoch']} kept")
    mc = metrics.get("mc_dropout") or {}
    if "accuracy" in mc:
        lines.append(
            f"MC dropout ({mc['samples']} samples, {mc.get('split')}): accuracy "
            f"{number(mc['accuracy'])}, single pass {number(mc['single_draw_accuracy_mean'])}"
            f" +/- {number(mc['single_draw_accuracy_std'])}, plain "
            f"{number((mc.get('plain') or {}).get('accuracy'))}"
        )
    if "seconds_per_epoch" in metrics:
        lines.append(
            f"time: {number(metrics.get('wall_seconds', 0), 'short')}s, "
            f"{number(metrics['seconds_per_epoch'], 'short')}s per epoch"
        )
    console.print("[bold]metrics[/]")
    for line in lines:
        console.print("  " + line, highlight=False, soft_wrap=True)


def _pairs(values: dict[str, Any]) -> str:
    keys = runs.history_columns(list(values))
    return ", ".join(f"{k} {number(values[k])}" for k in keys)


def _environment(run: runs.Run, console: Console) -> None:
    info = run.info
    device = info.get("device") or {}
    versions = info.get("versions") or {}
    data = info.get("data") or {}
    console.print("[bold]environment[/]")
    lines = [
        f"seed {info.get('seed')}, backend {info.get('backend')}, device "
        f"{device.get('kind', '?')} ({device.get('name', '?')})",
        ", ".join(f"{k} {v}" for k, v in versions.items() if k not in ("backend", "platform")),
        f"started {info.get('started', '?')}, ended {info.get('ended', '-')}",
    ]
    if data:
        sizes = ", ".join(f"{n} {split}" for split, n in (data.get("sizes") or {}).items())
        lines.append(
            f"data {data.get('dataset')} ({data.get('task')}): {sizes}; scaling "
            f"{data.get('scaling')}"
        )
    if info.get("init_from"):
        source = info["init_from"]
        lines.append(
            f"initialized from {source['run']}: {', '.join(source['copied'])}"
            f" ({'trainable' if source['trainable'] else 'frozen'})"
        )
    if info.get("git"):
        lines.append(
            f"git {info['git'].get('commit', '')[:12]}"
            + (" (config modified)" if info["git"].get("config_modified") else "")
        )
    lines.append("command: " + " ".join(map(show_value, info.get("command") or [])))
    for line in lines:
        console.print("  " + line, highlight=False, soft_wrap=True)
