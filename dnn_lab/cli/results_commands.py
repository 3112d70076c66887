"""Commands that read run directories: compare, report, show, runs."""

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dnn_lab.cli.app import (
    Format,
    RunPathsArg,
    _complete_dir,
    _split,
    _stderr,
    _stdout,
    _user_errors,
    _warn_skipped,
    app,
)
from dnn_lab.errors import DnnLabError
from dnn_lab.store.status import RUN_STATUSES


@app.command("compare")
def compare_command(
    paths: RunPathsArg,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="Column to sort by (default: the task's validation metric, "
            "best first), e.g. val_loss, params, train.batch_size.",
        ),
    ] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="Flip the sort order.")] = False,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Show the first N.")] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="KEY=VALUE",
            help="Keep runs where a key matches (also !=, <, >). Repeatable.",
        ),
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option("--columns", metavar="KEY", help="Add a column, e.g. train.epochs."),
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="table, markdown, csv or json.")
    ] = Format.table,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write learning curves of these runs to a PNG.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", metavar="KEY", help="Group runs by one config key, over seeds."),
    ] = None,
    ungrouped: Annotated[
        bool, typer.Option("--ungrouped", help="A sweep's trials one by one, not per setting.")
    ] = False,
    plot_diagnostics: Annotated[
        Path | None,
        typer.Option(
            "--plot-diagnostics",
            help="Gradient flow and dead/saturated units of "
            "the runs side by side, as a PNG (runs trained with --diagnostics).",
        ),
    ] = None,
    importance: Annotated[
        bool,
        typer.Option(
            "--importance",
            help="A sweep's keys ranked by the share of the metric's variance they explain "
            "(Optuna's fANOVA), with its stability over seeds.",
        ),
    ] = False,
    pareto: Annotated[
        bool,
        typer.Option(
            "--pareto",
            help="The settings no other beats on both the metric and the parameter count "
            "(or seconds per epoch); --plot draws the fronts.",
        ),
    ] = False,
) -> None:
    """Show runs side by side: what differs between them and how they scored.

    A sweep folder is shown per setting: mean, std and 95% interval over seeds.
    """
    with _user_errors():
        from dnn_lab.render import tables
        from dnn_lab.store.runs import is_sweep_dir
        from dnn_lab.views import compare

        if plot_diagnostics is not None:
            _plot_diagnostics(paths, plot_diagnostics)
        if importance:
            _compare_importance(paths, output_format)
            return
        if pareto:
            _compare_pareto(paths, by, output_format, plot)
            return
        if by is not None or (not ungrouped and any(is_sweep_dir(p) for p in paths)):
            _compare_grouped(
                paths,
                by,
                output_format,
                plot,
                where=where or (),
                sort=sort,
                reverse=reverse,
                top=top,
                columns=_split(columns),
            )
            return

        result = compare.compare(
            paths, sort=sort, reverse=reverse, top=top, where=where or (), columns=_split(columns)
        )
        limit = None if top else tables.TABLE_ROWS
        # on a terminal the first rows get a sparkline, and the table prints its own warning
        curves = (limit or len(result.rows)) if output_format is Format.table else 0
        _render(compare.to_table(result, curves=curves), output_format, limit=limit)
        if output_format is not Format.table:
            _warn_skipped(result.skipped)
        if plot is not None:
            compare.plot(result, plot)
            _stderr().print(f"curves written to {plot}", soft_wrap=True)


def _plot_diagnostics(paths: list[Path], target: Path) -> None:
    from dnn_lab.analysis import diagnostics
    from dnn_lab.store.collect import collect

    found, _ = collect(paths)
    items = [(run.name, diagnostics.read(run.path)) for run in found]
    items = [(name, table) for name, table in items if table]
    if not items:
        raise DnnLabError("none of these runs recorded diagnostics (train with --diagnostics)")
    diagnostics.plot(items, target)
    _stderr().print(f"diagnostics written to {target}", soft_wrap=True)


def _compare_grouped(paths: list[Path], by: str | None, output_format, plot, **arrange) -> None:
    """Settings over seeds; ``arrange`` is --where, --sort, --reverse, --top and --columns."""
    from dnn_lab.analysis import study
    from dnn_lab.store.collect import collect
    from dnn_lab.sweeps.state import counted_runs
    from dnn_lab.views.grouped import grouped

    found, skipped = collect(counted_runs(paths))
    result = grouped(found, by=by, **arrange)
    _render(study.to_table(result), output_format)
    _warn_skipped(skipped)
    if plot is not None:
        study.plot_study(result, plot)
        _stderr().print(f"curves written to {plot}", soft_wrap=True)


def _render(table, output_format, limit: int | None = None) -> None:
    """The table in the chosen format on stdout; ``limit`` caps the rows of a terminal table."""
    from dnn_lab.render import tables

    if output_format is Format.table:
        tables.render_table(table, _stdout(wide_when_piped=True), limit=limit)
        return
    render = {
        Format.markdown: tables.render_markdown,
        Format.csv: tables.render_csv,
        Format.json: tables.render_json,
    }[output_format]
    typer.echo(render(table), nl=False)


def _compare_importance(paths: list[Path], output_format) -> None:
    from dnn_lab.analysis import importance
    from dnn_lab.store.runs import is_sweep_dir
    from dnn_lab.store.sweep_file import read_sweep_file

    folders = [p for p in paths if is_sweep_dir(p)]
    if len(folders) != 1 or len(paths) != 1:
        raise DnnLabError("--importance takes one sweep folder (the folder with sweep.json)")
    info = read_sweep_file(folders[0], for_resume=False)
    found = importance.importance(info)
    if not found.enough and output_format is Format.table:
        _stdout().print(found.note, highlight=False, soft_wrap=True)
        return
    _render(importance.to_table(found), output_format)


def _compare_pareto(paths: list[Path], by: str | None, output_format, plot) -> None:
    from dnn_lab.analysis import pareto, study
    from dnn_lab.store.collect import collect
    from dnn_lab.sweeps.state import counted_runs

    found, _ = collect(counted_runs(paths))
    result = pareto.tradeoffs(study.group_runs(found, by=by))
    _render(pareto.to_table(result), output_format)
    if plot is not None:
        pareto.plot_fronts(result, plot)
        _stderr().print(f"fronts written to {plot}", soft_wrap=True)


@app.command()
def report(
    folder: Annotated[
        Path,
        typer.Argument(help="A sweep folder.", show_default=False, autocompletion=_complete_dir),
    ],
    by: Annotated[str | None, typer.Option("--by", metavar="KEY", help="Group by one key.")] = None,
) -> None:
    """Write report.md and report.html for a sweep: the table, curves, ranking and configs."""
    with _user_errors():
        from dnn_lab.analysis import study
        from dnn_lab.analysis.report import read_base_config, write_report
        from dnn_lab.render import tables
        from dnn_lab.store.collect import collect
        from dnn_lab.store.sweep_file import read_sweep_file
        from dnn_lab.sweeps.state import BASE_FILE, counted_runs

        # first: a damaged file is one message, no report
        info = read_sweep_file(folder, for_resume=False)
        found, _ = collect(counted_runs([folder]))
        result = study.group_runs(found, by=by)
        written = write_report(folder, result, read_base_config(folder / BASE_FILE), info)
        tables.render_table(study.to_table(result), _stdout(wide_when_piped=True), limit=None)
        for path in written:
            _stderr().print(f"wrote {path}", soft_wrap=True)


@app.command("show")
def show_command(
    run: Annotated[
        Path,
        typer.Argument(help="A run directory.", show_default=False, autocompletion=_complete_dir),
    ],
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write this run's learning curves to a PNG.")
    ] = None,
) -> None:
    """One run in detail: summary, parameters, history, metrics and environment."""
    with _user_errors():
        from dnn_lab.views import show

        found = show.load(run)
        show.render(found, _stdout(wide_when_piped=True))
        if plot is not None:
            show.plot(found, plot)
            _stderr().print(f"curves written to {plot}", soft_wrap=True)


# --status's choices: the statuses a run directory can be at (dnn_lab.store.status)
RunStatus = Enum("RunStatus", {s.value: s.value for s in RUN_STATUSES}, type=str)


@app.command("runs")
def list_runs(
    folder: Annotated[
        Path, typer.Argument(help="A runs directory.", autocompletion=_complete_dir)
    ] = Path("runs"),
    status: Annotated[
        RunStatus | None,
        typer.Option("--status", help="Only runs with this status (failed includes crashed)."),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every run, not only the newest 25.")
    ] = False,
) -> None:
    """List the runs in a runs directory, newest first."""
    with _user_errors():
        from dnn_lab.render.terminal import print_run_list
        from dnn_lab.store.collect import list_runs as listing

        if not folder.is_dir():
            raise DnnLabError(f"{folder} is not a directory")
        rows = listing(folder, status.value if status else None)
        print_run_list(_stdout(wide_when_piped=True), rows, limit=None if show_all else 25)
