"""Terminal output for training and datasets (rich; plain text when piped)."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dnn_lab.render.formatting import number, printable
from dnn_lab.store import runs
from dnn_lab.store.status import Status

# FORCE_COLOR's levels as chalk and Node read them; any other non-empty value: 16 colours.
_FORCED_COLOURS = {"2": "256", "3": "truecolor"}
PIPED_WIDTH = 4096  # a piped table keeps its natural width instead of 80 columns


class _Console(Console):
    """Goes quiet when its reader goes away (``| head -1``): the command finishes its work
    (a run still completes and records itself) instead of dying at the next line."""

    def on_broken_pipe(self) -> None:
        reader_gone(self.file)
        self.quiet = True


READER = {"gone": False}


def reader_gone(stream=None) -> None:
    """Point ``stream``'s descriptor (stdout by default) at /dev/null, so that later
    writes and the final flush have nowhere to fail, and remember that it happened."""
    READER["gone"] = True
    stream = stream or sys.stdout
    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, OSError, ValueError):
        return
    os.dup2(null, fd)
    os.close(null)


def make_console(*, stderr: bool = False, wide_when_piped: bool = False, **options) -> Console:
    """A console for one of the process's streams: live displays only on a real terminal.

    CI runners set ``FORCE_COLOR`` (and ``TERM``) to get colour in their logs; rich would
    take that for a terminal and redraw progress bars with cursor movement, frame after
    frame. Here only a tty is a terminal; off one, ``FORCE_COLOR`` (force-color.org: set
    and not empty) adds colour and nothing else, and ``NO_COLOR`` (no-color.org) wins.
    """
    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError, OSError):
        tty = False
    if tty:
        return _Console(stderr=stderr, **options)
    forced = os.environ.get("FORCE_COLOR", "") if not os.environ.get("NO_COLOR") else ""
    return _Console(
        stderr=stderr,
        force_terminal=False,  # no cursor movement, no repeated frames
        force_interactive=False,
        color_system=_FORCED_COLOURS.get(forced, "standard") if forced else None,
        width=PIPED_WIDTH if wide_when_piped else options.pop("width", None),
        **options,
    )


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
    colour = {
        Status.COMPLETED: "green",
        Status.DIVERGED: "yellow",
        Status.INTERRUPTED: "yellow",
    }.get(result.status, "red")
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
    line = Text(result.status, style=f"bold {colour}")
    line.append(f"{_time_taken(metrics)}: {result.run_dir}")
    console.print(line, highlight=False, soft_wrap=True)
    if result.message:  # an exception's text, brackets and all
        console.print(result.message, highlight=False, soft_wrap=True, markup=False)


def _time_taken(metrics: dict) -> str:
    """`` in 36.7s (data 30.7s, framework 3.1s, ...; 0.05s/epoch)``: the whole run, from the
    process's start (a sweep trial's: from its hand-over), and where it went."""
    total = metrics.get("wall_seconds")
    if not isinstance(total, (int, float)):
        return ""
    timing = metrics.get("timing") or {}
    parts = [
        f"{name} {number(seconds, 'short')}s"
        for name, seconds in timing.items()
        if name != "total" and isinstance(seconds, (int, float)) and seconds >= 0.005
    ]
    if isinstance(metrics.get("seconds_per_epoch"), (int, float)):
        parts.append(f"{number(metrics['seconds_per_epoch'], 'short')}s/epoch")
    return f" in {number(total, 'short')}s" + (f" ({', '.join(parts)})" if parts else "")


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


_RUN_LIST = ("run", "status", "started", "dataset", "epochs", "best", "path")
_RIGHT = ("epochs", "best")


def print_run_list(console: Console, rows: list[dict], limit: int | None = None) -> None:
    if not rows:
        console.print("no runs")
        return
    cells = [_run_list_cells(row) for row in rows[:limit]]
    # a name with a newline or an escape sequence is shown escaped (tested at once, in C)
    if not "".join(map("".join, cells)).isprintable():
        cells = [tuple(map(printable, line)) for line in cells]
    if not _print_plain_table(console, cells):
        from rich import box

        table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
        for column in _RUN_LIST:
            table.add_column(
                column, justify="right" if column in _RIGHT else "left", no_wrap=column == "path"
            )
        for line in cells:
            # Text, not markup: brackets in a run's files are shown as they are
            table.add_row(
                *(
                    Text(text, style="yellow" if i == 1 and text != Status.COMPLETED else "")
                    for i, text in enumerate(line)
                )
            )
        console.print(table)
    if limit is not None and len(rows) > limit:
        console.print(f"... and {len(rows) - limit} older runs (--all lists them)", highlight=False)


def _run_list_cells(row: dict) -> tuple[str, ...]:
    """The texts of one line, as read (``print_run_list`` makes them printable)."""
    best = "-" if row["best"] is None else f"{number(row['best'])} {row['metric']}"
    started = (row["started"] or "")[:19].replace("T", " ")
    return (
        row["run"],
        row["status"],
        started,
        row["dataset"] or "-",
        str(row["epochs"]),
        best,
        row["path"],
    )


def _print_plain_table(console: Console, cells: list[tuple[str, ...]]) -> bool:
    """The run list as rich draws it without colour (box SIMPLE_HEAD, no edge padding),
    written directly: rich takes 9 s for 10,000 rows. Only where the output is the same:
    no colour, printable ASCII cells (one character, one column), and a table that fits.
    Returns False, having written nothing, otherwise."""
    if console.color_system is not None or console.is_terminal or console.record:
        return False
    every = "".join(map("".join, cells))  # one test for all cells, in C
    if not (every.isascii() and every.isprintable()):
        return False
    widths = [
        max(len(title), *map(len, column))
        for title, column in zip(_RUN_LIST, zip(*cells, strict=True), strict=True)
    ]
    inner = sum(widths) + 3 * (len(widths) - 1)  # a space of padding, a separator, a space
    if inner + 2 > console.width:
        return False
    blank = " " * (inner + 2)
    # each line one format call: a space of padding, the cells three spaces apart
    line = " " + "   ".join(
        f"{{:{'>' if title in _RIGHT else '<'}{width}}}"
        for title, width in zip(_RUN_LIST, widths, strict=True)
    )
    form = (line + " ").format
    out = [blank, form(*_RUN_LIST), f" {'─' * inner} ", *(form(*line) for line in cells), blank]
    console.file.write("\n".join(out) + "\n")
    return True
