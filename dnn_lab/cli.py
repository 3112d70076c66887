"""The ``dnn-lab`` command line: parse arguments, call one function, report.

Only Typer is imported at start-up; each command imports what it needs, so
``--help``, ``validate`` and ``compare`` never pay for TensorFlow. A
``DnnLabError`` becomes one line on stderr and exit code 2; ``--debug`` shows
its traceback too.
"""

import sys
from contextlib import contextmanager, suppress
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dnn_lab.errors import EXIT_BUG, EXIT_USER_ERROR, DnnLabError

app = typer.Typer(
    name="dnn-lab",
    help="Train, compare and study dense neural networks from YAML configs (Keras 3).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

_state = {"debug": False}


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class Backend(str, Enum):
    tensorflow = "tensorflow"
    jax = "jax"
    torch = "torch"


def _stderr():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _stdout(wide_when_piped: bool = False):
    """The console for results; piped tables keep their natural width instead of 80 columns."""
    from rich.console import Console

    console = Console(highlight=False)
    if wide_when_piped and not console.is_terminal:
        console = Console(highlight=False, width=4096)
    return console


@contextmanager
def _user_errors():
    """Turn a DnnLabError into a clear message and its exit code; no traceback unless --debug."""
    try:
        yield
    except DnnLabError as exc:
        if _state["debug"]:
            import traceback

            traceback.print_exc()
        from rich.markup import escape

        # escaped: "pip install 'dnn-lab[optuna]'" is not a style tag
        _stderr().print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def _print_version(value: bool) -> None:
    if value:
        from dnn_lab import __version__

        typer.echo(f"dnn-lab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _state["debug"] = debug


def _complete_paths(incomplete: str, suffixes: tuple[str, ...]) -> list[str]:
    """Folders, and files ending in one of ``suffixes``, that start with what was typed."""
    import os

    folder, slash, prefix = incomplete.rpartition("/")
    where = (folder or "/") if slash else "."
    try:
        with os.scandir(os.path.expanduser(where)) as entries:
            found = [
                folder + slash + entry.name + ("/" if entry.is_dir() else "")
                for entry in entries
                if entry.name.startswith(prefix)
                and (prefix.startswith(".") or not entry.name.startswith("."))
                and (entry.is_dir() or entry.name.endswith(suffixes))
            ]
    except OSError:
        return []
    return sorted(found)


def _complete_config(incomplete: str) -> list[str]:
    return _complete_paths(incomplete, (".yaml", ".yml"))


def _complete_dir(incomplete: str) -> list[str]:
    return _complete_paths(incomplete, ())


ConfigArg = Annotated[
    Path,
    typer.Argument(help="YAML config file.", show_default=False, autocompletion=_complete_config),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a config key, e.g. --set train.epochs=2 --set model.units=[64,32]. "
        "Repeatable.",
    ),
]


def _load(
    config: Path,
    overrides: list[str] | None,
    name: str | None = None,
    device: Device | None = None,
    backend: Backend | None = None,
):
    from dnn_lab.config.loading import load_config

    extra = list(overrides or [])
    if device is not None:
        extra.append(f"device={device.value}")
    if backend is not None:
        extra.append(f"backend={backend.value}")
    return load_config(config, extra, name=name)


@app.command()
def train(
    config: ConfigArg,
    overrides: SetOption = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Where run directories go.")] = Path(
        "runs"
    ),
    name: Annotated[
        str | None, typer.Option("--name", help="Run name (default: the config's name).")
    ] = None,
    device: Annotated[
        Device | None, typer.Option("--device", help="auto, cpu or gpu (default: the config's).")
    ] = None,
    backend: Annotated[
        Backend | None, typer.Option("--backend", help="Keras backend (default: the config's).")
    ] = None,
    diagnostics: Annotated[
        bool,
        typer.Option("--diagnostics", help="Record gradient norms, dead and saturated units."),
    ] = False,
) -> None:
    """Train the network a config describes and write a run directory."""
    with _user_errors():
        extra = ["train.diagnostics=true"] if diagnostics else []
        cfg = _load(config, [*(overrides or []), *extra], name, device, backend)
        if cfg.sweep is not None:
            _stderr().print(
                "note: this config has a sweep: section; train runs its base config once "
                f"(dnn-lab sweep {config} runs the study)",
                soft_wrap=True,
            )
        from dnn_lab.results.terminal import print_training_result
        from dnn_lab.training.trainer import train as run_training

        console = _stdout()
        result = run_training(cfg, runs_dir, console=console, command=sys.argv, config_path=config)
        print_training_result(console, result)
    if result.error is not None:
        raise result.error
    raise typer.Exit(result.exit_code)


@app.command()
def validate(config: ConfigArg, overrides: SetOption = None) -> None:
    """Check a config and print it fully resolved, without training."""
    with _user_errors():
        cfg = _load(config, overrides)
        from dnn_lab.data.prepare import task_of
        from dnn_lab.training.head import resolve_head, resolved

        task, n_classes = task_of(cfg.data, cfg.seed)
        cfg = resolved(cfg, resolve_head(cfg, task, n_classes))
    typer.echo(cfg.to_yaml(), nl=False)
    _stderr().print(
        f"[green]ok:[/] {config} is valid ({task}, loss {cfg.train.loss})", soft_wrap=True
    )


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


@app.command()
def compare(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories, or folders of runs (runs/, a sweep).",
            show_default=False,
            autocompletion=_complete_dir,
        ),
    ],
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
) -> None:
    """Show runs side by side: what differs between them and how they scored.

    A sweep folder is shown per setting: mean, std and 95% interval over seeds.
    """
    with _user_errors():
        from dnn_lab.results import compare as comparing
        from dnn_lab.results import tables
        from dnn_lab.results.rundir import is_sweep_dir

        if plot_diagnostics is not None:
            _plot_diagnostics(paths, plot_diagnostics)
        if by is not None or (not ungrouped and any(is_sweep_dir(p) for p in paths)):
            _compare_grouped(paths, by, output_format, plot)
            return

        result = comparing.compare(
            paths, sort=sort, reverse=reverse, top=top, where=where or (), columns=_split(columns)
        )
        if output_format is Format.table:
            limit = None if top else tables.TABLE_ROWS
            table = comparing.to_table(result, curves=limit or len(result.rows))
            tables.render_table(table, _stdout(wide_when_piped=True), limit=limit)
        else:
            render = {
                Format.markdown: tables.render_markdown,
                Format.csv: tables.render_csv,
                Format.json: tables.render_json,
            }[output_format]
            typer.echo(render(comparing.to_table(result)), nl=False)
            if result.skipped:
                _stderr().print(
                    "warning: not run directories, skipped: " + ", ".join(map(str, result.skipped)),
                    soft_wrap=True,
                )
        if plot is not None:
            comparing.plot(result, plot)
            _stderr().print(f"curves written to {plot}", soft_wrap=True)


def _plot_diagnostics(paths: list[Path], target: Path) -> None:
    from dnn_lab.results import diagnostics as diagnosis
    from dnn_lab.results.collect import collect

    found, _ = collect(paths)
    items = [(run.name, diagnosis.read(run.path)) for run in found]
    items = [(name, table) for name, table in items if table]
    if not items:
        raise DnnLabError("none of these runs recorded diagnostics (train with --diagnostics)")
    diagnosis.plot(items, target)
    _stderr().print(f"diagnostics written to {target}", soft_wrap=True)


def _compare_grouped(paths: list[Path], by: str | None, output_format, plot) -> None:
    from dnn_lab.results import study as studying
    from dnn_lab.results import tables
    from dnn_lab.results.collect import collect
    from dnn_lab.sweep.state import counted_runs

    found, skipped = collect(counted_runs(paths))
    result = studying.group_runs(found, by=by)
    table = studying.to_table(result)
    if output_format is Format.table:
        tables.render_table(table, _stdout(wide_when_piped=True), limit=None)
    else:
        render = {
            Format.markdown: tables.render_markdown,
            Format.csv: tables.render_csv,
            Format.json: tables.render_json,
        }[output_format]
        typer.echo(render(table), nl=False)
    if skipped:
        _stderr().print(
            "warning: not run directories, skipped: " + ", ".join(map(str, skipped)), soft_wrap=True
        )
    if plot is not None:
        from dnn_lab.results.plots import plot_bands

        groups = [(s.label(), [r.history for r in s.runs if r.history]) for s in result.settings]
        plot_bands([(label, h) for label, h in groups if h], plot, metric=result.metric)
        _stderr().print(f"curves written to {plot}", soft_wrap=True)


class Search(str, Enum):
    grid = "grid"
    random = "random"
    optuna = "optuna"


class Executor(str, Enum):
    local = "local"
    ray = "ray"


@app.command()
def sweep(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="YAML config (its sweep: section adds axes).",
            show_default=False,
            autocompletion=_complete_config,
        ),
    ] = None,
    overrides: SetOption = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            metavar="KEY=V1,V2",
            help="A sweep axis, e.g. --grid train.optimizer=sgd,adam. Repeatable.",
        ),
    ] = None,
    random: Annotated[
        list[str] | None,
        typer.Option(
            "--random",
            metavar="KEY=KIND(ARGS)",
            help="A range to draw from: uniform(a,b), loguniform(a,b), int(a,b), "
            "choice(x,y). Repeatable.",
        ),
    ] = None,
    search: Annotated[
        Search | None, typer.Option("--search", help="grid, random or optuna.")
    ] = None,
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help="Settings to try (random, optuna).")
    ] = None,
    repeats: Annotated[
        int | None, typer.Option("--repeats", min=1, help="Seeds per setting: seed, seed+1, ...")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Trials at a time (default: one per CPU core, or one per GPU; on Ray, what "
            "the cluster holds).",
        ),
    ] = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Where the sweep folder goes.")] = (
        Path("runs")
    ),
    name: Annotated[str | None, typer.Option("--name", help="Sweep name.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the trials without training.")
    ] = False,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume", help="Continue an interrupted sweep folder.", autocompletion=_complete_dir
        ),
    ] = None,
    executor: Annotated[
        Executor,
        typer.Option(
            "--executor",
            help="Where trials run: local (worker processes here) or ray (a Ray cluster).",
        ),
    ] = Executor.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="The Ray cluster (default: RAY_ADDRESS, else a Ray started for the sweep).",
        ),
    ] = None,
    cpus_per_trial: Annotated[
        float | None,
        typer.Option("--cpus-per-trial", min=0.01, help="Ray: CPUs per trial (default 1)."),
    ] = None,
    gpus_per_trial: Annotated[
        float | None,
        typer.Option(
            "--gpus-per-trial", min=0, help="Ray: GPUs per trial, fractions share one (default 0)."
        ),
    ] = None,
) -> None:
    """Train one config over a grid, random or guided search, repeated over seeds."""
    with _user_errors():
        from dnn_lab.sweep import plan as planning
        from dnn_lab.sweep.executor import ExecutorOptions
        from dnn_lab.sweep.runner import resume_sweep, start_sweep
        from dnn_lab.sweep.view import SweepView, print_resume_plan, print_trial_plan

        if executor is Executor.local:
            given = [
                flag
                for flag, value in (
                    ("--ray-address", ray_address),
                    ("--cpus-per-trial", cpus_per_trial),
                    ("--gpus-per-trial", gpus_per_trial),
                )
                if value is not None
            ]
            if given:
                raise DnnLabError(f"{', '.join(given)}: only with --executor ray")
        where = ExecutorOptions(
            kind=executor.value,
            address=ray_address,
            cpus_per_trial=1.0 if cpus_per_trial is None else cpus_per_trial,
            gpus_per_trial=gpus_per_trial or 0.0,
        )
        console = _stdout()
        if resume is not None and dry_run:  # reads sweep.json only: no lock, no training
            from dnn_lab.sweep.state import SweepState

            print_resume_plan(console, SweepState.load(resume))
            return
        if resume is not None:
            raise typer.Exit(resume_sweep(resume, workers, SweepView(console), where))
        if config is None:
            raise DnnLabError("give a CONFIG to sweep, or --resume SWEEP_DIR")
        cfg = _load(config, overrides, name)
        plan = planning.merged_sweep(
            cfg,
            grid or (),
            random or (),
            search.value if search else None,
            trials,
            repeats,
            workers,
        )
        if not plan.grid and not plan.space and plan.repeats == 1:
            raise DnnLabError(
                "nothing to sweep: give --grid KEY=V1,V2, --random KEY=KIND(ARGS), --repeats N, "
                "or a sweep: section in the config"
            )
        if dry_run:
            print_trial_plan(console, planning.plan_only(cfg, plan), plan)
            return
        code = start_sweep(cfg, plan, runs_dir, workers, SweepView(console), where)
    raise typer.Exit(code)


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
        import json as json_lib

        from dnn_lab.results import study as studying
        from dnn_lab.results import tables
        from dnn_lab.results.collect import collect
        from dnn_lab.results.report import write_report
        from dnn_lab.results.rundir import SWEEP_FILE, is_sweep_dir
        from dnn_lab.sweep.state import BASE_FILE, counted_runs

        if not is_sweep_dir(folder):
            raise DnnLabError(f"{folder} is not a sweep folder (no {SWEEP_FILE})")
        found, _ = collect(counted_runs([folder]))
        result = studying.group_runs(found, by=by)
        info = json_lib.loads((folder / SWEEP_FILE).read_text(encoding="utf-8"))
        base = (
            (folder / BASE_FILE).read_text(encoding="utf-8")
            if (folder / BASE_FILE).exists()
            else None
        )
        written = write_report(folder, result, base, info)
        tables.render_table(studying.to_table(result), _stdout(wide_when_piped=True), limit=None)
        for path in written:
            _stderr().print(f"wrote {path}", soft_wrap=True)


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


@app.command()
def show(
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
        from dnn_lab.results import show as showing

        found = showing.load(run)
        showing.render(found, _stdout(wide_when_piped=True))
        if plot is not None:
            showing.plot(found, plot)
            _stderr().print(f"curves written to {plot}", soft_wrap=True)


class Status(str, Enum):
    running = "running"
    completed = "completed"
    failed = "failed"
    interrupted = "interrupted"
    diverged = "diverged"
    crashed = "crashed"
    damaged = "damaged"


@app.command("runs")
def list_runs(
    folder: Annotated[
        Path, typer.Argument(help="A runs directory.", autocompletion=_complete_dir)
    ] = Path("runs"),
    status: Annotated[
        Status | None, typer.Option("--status", help="Only runs with this status.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every run, not only the newest 25.")
    ] = False,
) -> None:
    """List the runs in a runs directory, newest first."""
    with _user_errors():
        from dnn_lab.results.collect import list_runs as listing
        from dnn_lab.results.terminal import print_run_list

        if not folder.is_dir():
            raise DnnLabError(f"{folder} is not a directory")
        rows = listing(folder, status.value if status else None)
        print_run_list(_stdout(wide_when_piped=True), rows, limit=None if show_all else 25)


@app.command()
def datasets() -> None:
    """List the datasets a config can name, with size, shape, task and classes."""
    from dnn_lab.results.terminal import print_datasets

    print_datasets(_stdout())


def main() -> None:
    """Entry point; accepts --debug anywhere on the command line."""
    argv = sys.argv[1:]
    if "--debug" in argv[1:]:
        argv = ["--debug", *[a for a in argv if a != "--debug"]]
    try:
        app(args=argv, prog_name="dnn-lab")
    except KeyboardInterrupt:
        _exit(130)
    except SystemExit as done:
        _exit(done.code)
    except BaseException:
        import traceback

        traceback.print_exc()
        _exit(EXIT_BUG)
    _exit(0)


def _exit(code) -> None:
    """End the process; after a training, without the framework's seconds of teardown.

    Once a run directory is complete (every file renamed into place, ``run.json``
    last), nothing is left to save, yet TensorFlow's and JAX's exit handlers and the
    interpreter's teardown of their modules keep the user waiting one to two seconds.
    So after a command that loaded Keras, the streams are flushed and the process ends
    at once; every other command exits the ordinary way.
    """
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = EXIT_BUG
    if "keras" not in sys.modules:
        raise SystemExit(code)
    import os

    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


__all__ = ["app", "main", "EXIT_USER_ERROR"]


# --------------------------------------------------------------------------- schema, export


@app.command()
def schema() -> None:
    """Print the JSON Schema of a config, for editors and YAML language servers.

    dnn-lab schema > configs/dnn-lab.schema.json
    """
    from dnn_lab.config.json_schema import render_schema

    typer.echo(render_schema(), nl=False)


export_app = typer.Typer(
    help="Export runs and sweeps to MLflow or TensorBoard.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(export_app, name="export")

ExportPaths = Annotated[
    list[Path],
    typer.Argument(
        help="Run directories, sweep folders, or folders of runs (runs/).",
        show_default=False,
        autocompletion=_complete_dir,
    ),
]


@export_app.command("mlflow")
def export_mlflow(
    paths: ExportPaths,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="MLflow tracking URI: a server URL or sqlite:///FILE (default: "
            "$MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here).",
        ),
    ] = None,
    experiment: Annotated[
        str, typer.Option("--experiment", help="MLflow experiment, created when missing.")
    ] = "dnn-lab",
    with_model: Annotated[
        bool, typer.Option("--with-model", help="Upload model.keras too.")
    ] = False,
) -> None:
    """Write runs into an MLflow tracking store; a sweep becomes a parent run with its trials.

    Exporting again adds only what is new (epochs, files, changed metrics and status).
    """
    with _user_errors():
        from dnn_lab.results import export_mlflow as exporting

        result = exporting.export_mlflow(paths, tracking_uri, experiment, with_model)
        typer.echo(exporting.render(result))
        _warn_skipped(result.skipped)


@export_app.command("tensorboard")
def export_tensorboard(
    paths: ExportPaths,
    logdir: Annotated[
        Path,
        typer.Option(
            "--logdir",
            help="Where the event files go (tensorboard --logdir DIR).",
            autocompletion=_complete_dir,
        ),
    ],
) -> None:
    """Write runs as TensorBoard event files: per-epoch scalars and HParams to compare them."""
    with _user_errors():
        from dnn_lab.results import export_tensorboard as exporting

        result = exporting.export_tensorboard(paths, logdir)
        typer.echo(exporting.render(result))
        _warn_skipped(result.skipped)


def _warn_skipped(skipped: list[Path]) -> None:
    if skipped:
        _stderr().print(
            "warning: not run directories, skipped: " + ", ".join(map(str, skipped)),
            soft_wrap=True,
        )
