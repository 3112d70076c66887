"""One run in detail: model, parameters, history, metrics and environment. No Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dnn_lab.errors import RunDirError
from dnn_lab.render.formatting import number, printable, show_value
from dnn_lab.store import files, runs
from dnn_lab.store.status import Status


def load(path: Path) -> runs.Run:
    path = Path(path)
    if not runs.is_run_dir(path):
        raise RunDirError(
            f"{path} is not a run directory (no {runs.RUN_FILE} or {runs.HISTORY_FILE} in it)"
        )
    return runs.read_run(path)


def render(run: runs.Run, console: Console) -> None:
    _ = run.history, run.params  # read now: what is wrong with them is listed at the top
    status = run.status
    colour = "green" if status == Status.COMPLETED else "yellow"
    console.print(
        f"[bold]{escape(printable(run.name))}[/]  [{colour}]{status}[/]  "
        f"{escape(printable(str(run.path)))}",
        highlight=False,
        soft_wrap=True,
    )
    if run.record.message:
        message = printable(run.record.message, newlines=True)
        console.print(message, highlight=False, soft_wrap=True, markup=False)
    for problem in run.problems:
        console.print(
            f"[yellow]damaged:[/] {escape(printable(problem))}", highlight=False, soft_wrap=True
        )
    try:
        summary = files.read_text(
            run.path / runs.SUMMARY_FILE, files.MAX_TEXT_BYTES, errors="replace"
        )
    except FileNotFoundError:
        summary = ""
    except files.FileRefused as exc:
        summary = ""
        console.print(
            f"[yellow]damaged:[/] {escape(printable(str(exc)))}", highlight=False, soft_wrap=True
        )
    if summary:
        text = printable(summary.rstrip(), newlines=True)
        console.print(text, highlight=False, markup=False, soft_wrap=True)
    _parameters(run, console)
    _history(run, console)
    _metrics(run, console)
    from dnn_lab.analysis import diagnostics

    diagnostics.render(diagnostics.read(run.path), console)
    _environment(run, console)


def plot(run: runs.Run, path: Path) -> Path:
    """This run's learning curves; with diagnostics, gradient flow and unit health beneath."""
    from dnn_lab.analysis import diagnostics

    table = diagnostics.read(run.path)
    if table:
        return diagnostics.plot([(run.name, table)], path, histories=[run.history])
    from dnn_lab.render.plots import plot_curves

    return plot_curves([(run.name, run.history)], path, title=run.name)


def _parameters(run: runs.Run, console: Console) -> None:
    layers = run.params.get("layers")
    if not isinstance(layers, list) or not layers:
        return
    table = Table(
        title="parameters", box=box.SIMPLE_HEAD, header_style="bold", title_justify="left"
    )
    for column in ("layer", "class", "output", "trainable", "non-trainable", "formula"):
        table.add_column(
            column, justify="right" if "train" in column else "left", no_wrap=column != "class"
        )
    for layer in layers:
        layer = _mapping(layer)
        shape = layer.get("output_shape")
        name = show_value(layer.get("name", "?")) + (" (frozen)" if layer.get("frozen") else "")
        cells = (
            name,
            show_value(layer.get("class", "")),
            "(" + ", ".join(map(str, shape)) + ")" if isinstance(shape, list) else "-",
            number(layer.get("trainable"), "count"),
            number(layer.get("non_trainable"), "count"),
            show_value(layer.get("formula", "")),
        )
        table.add_row(*map(Text, cells))  # Text: a damaged file's brackets are not markup
    totals = _mapping(run.params.get("totals"))
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


def _mapping(value: Any) -> dict[str, Any]:
    """A nested section of a run file, or nothing when a damaged file has something else."""
    return value if isinstance(value, dict) else {}


def _history(run: runs.Run, console: Console) -> None:
    rows = run.history
    if not rows:
        console.print("no epochs recorded")
        return
    keys = runs.history_columns([k for row in rows for k in row])
    best = run.scores.best_epoch
    table = Table(title="history", box=box.SIMPLE_HEAD, header_style="bold", title_justify="left")
    for key in keys:
        table.add_column(Text(printable(key)), justify="right")
    for row in rows:
        style = "bold green" if row.get("epoch") == best else None
        table.add_row(*[_history_cell(key, row.get(key)) for key in keys], style=style)
    console.print(table)


def _history_cell(key: str, value: Any) -> str:
    return number(value, "short" if key == "seconds" else "metric")


def _metrics(run: runs.Run, console: Console) -> None:
    scores = run.scores
    lines = []
    if scores.best_epoch is not None:
        lines.append(
            f"best epoch {scores.best_epoch} by {scores.monitor}: " + _pairs(scores.best or {})
        )
    if scores.final:
        lines.append(f"final (epoch {number(scores.epochs_run)}): " + _pairs(scores.final))
    if scores.test:
        lines.append("test: " + _pairs(scores.test))
    if scores.kept_epoch is not None:
        stopped = "stopped early" if scores.early_stopped else "ran every epoch"
        lines.append(f"early stopping: {stopped}, weights of epoch {scores.kept_epoch} kept")
    mc = _mapping(scores.mc_dropout)
    if "accuracy" in mc:
        lines.append(
            f"MC dropout ({show_value(mc.get('samples'))} samples, {show_value(mc.get('split'))}):"
            f" accuracy {number(mc['accuracy'])}, single pass "
            f"{number(mc.get('single_draw_accuracy_mean'))}"
            f" +/- {number(mc.get('single_draw_accuracy_std'))}, plain "
            f"{number(_mapping(mc.get('plain')).get('accuracy'))}"
        )
    if scores.seconds_per_epoch is not None:
        lines.append(
            f"time: {number(scores.wall_seconds or 0, 'short')}s in all, "
            f"{number(scores.seconds_per_epoch, 'short')}s per epoch"
        )
    timing = {k: v for k, v in (scores.timing or {}).items() if isinstance(v, (int, float))}
    if timing:
        total = timing.pop("total", None)
        spent = ", ".join(f"{name} {number(value, 'short')}" for name, value in timing.items())
        lines.append(f"where the time went (s): {spent}; total {number(total, 'short')}")
    if not lines:
        return
    console.print("[bold]metrics[/]")
    for line in lines:
        console.print("  " + printable(line), highlight=False, soft_wrap=True, markup=False)


def _pairs(values: dict[str, Any]) -> str:
    keys = runs.history_columns(list(values))
    return ", ".join(f"{k} {number(values[k])}" for k in keys)


def _environment(run: runs.Run, console: Console) -> None:
    record = run.record
    device = _mapping(record.device)
    data = _mapping(record.data)
    console.print("[bold]environment[/]")
    lines = [
        f"seed {show_value(record.seed)}, backend {show_value(record.backend)}, device "
        f"{show_value(device.get('kind', '?'))} ({show_value(device.get('name', '?'))})",
        ", ".join(
            f"{k} {show_value(v)}"
            for k, v in _mapping(record.versions).items()
            if k not in ("backend", "platform")
        ),
        f"started {record.started or '?'}, ended {record.ended or '-'}",
    ]
    if data:
        sizes = ", ".join(f"{n} {split}" for split, n in _mapping(data.get("sizes")).items())
        lines.append(
            f"data {show_value(data.get('dataset'))} ({show_value(data.get('task'))}): {sizes}; "
            f"scaling {show_value(data.get('scaling'))}"
        )
    if record.init_from:
        source = record.init_from
        copied = source.get("copied")
        lines.append(
            f"initialized from {show_value(source.get('run'))}: "
            f"{', '.join(map(show_value, copied)) if isinstance(copied, list) else '-'}"
            f" ({'trainable' if source.get('trainable') else 'frozen'})"
        )
    if record.git:
        commit = record.git.get("commit")
        lines.append(
            f"git {commit[:12] if isinstance(commit, str) else '-'}"
            + (" (config modified)" if record.git.get("config_modified") else "")
        )
    lines.append("command: " + " ".join(record.command or []))
    for line in lines:
        console.print("  " + printable(line), highlight=False, soft_wrap=True, markup=False)
