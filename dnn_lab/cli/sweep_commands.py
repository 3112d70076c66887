"""The sweep command: a grid, random or guided search, repeated over seeds."""

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dnn_lab.cli.app import (
    SetOption,
    _complete_config,
    _complete_dir,
    _load,
    _split,
    _stderr,
    _stdout,
    _user_errors,
    app,
)


class Search(str, Enum):
    grid = "grid"
    random = "random"
    optuna = "optuna"
    hyperband = "hyperband"


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
        Search | None,
        typer.Option(
            "--search",
            help="grid, random, optuna, or hyperband (successive halving over epochs).",
        ),
    ] = None,
    objectives: Annotated[
        str | None,
        typer.Option(
            "--objectives",
            metavar="METRIC,COST",
            help="optuna: a multi-objective search, e.g. val_accuracy,params "
            "(costs: params, seconds_per_epoch).",
        ),
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option("--trials", min=1, help="Settings to try (random, optuna, hyperband)."),
    ] = None,
    repeats: Annotated[
        int | None, typer.Option("--repeats", min=1, help="Seeds per setting: seed, seed+1, ...")
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option(
            "--workers",
            metavar="N|auto",
            help="Trials at a time, each in a warm worker (default auto: one per CPU core, "
            "or one per GPU; on Ray, what the cluster holds).",
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
        from dnn_lab.sweeps.session import SweepRequest, run_sweep
        from dnn_lab.sweeps.view import SweepView

        request = SweepRequest(
            config=_load(config, overrides, name)
            if config is not None and resume is None
            else None,
            grid=tuple(grid or ()),
            random=tuple(random or ()),
            search=search.value if search else None,
            objectives=tuple(_split([objectives])) if objectives else None,
            trials=trials,
            repeats=repeats,
            workers=workers,
            runs_dir=runs_dir,
            name=name,
            dry_run=dry_run,
            resume=resume,
            executor=executor.value,
            ray_address=ray_address,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
        )
        outcome = run_sweep(request, SweepView(_stdout(), _stderr()))
    raise typer.Exit(outcome.exit_code)
