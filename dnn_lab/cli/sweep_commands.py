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
    _stdout,
    _user_errors,
    app,
)
from dnn_lab.errors import DnnLabError


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
        worker_count = _worker_count(workers)
        if resume is not None:
            from dnn_lab.sweep.sweep_file import read_sweep_file

            read_sweep_file(resume)  # a damaged sweep.json: one message naming the field
        if resume is not None and dry_run:  # reads sweep.json only: no lock, no training
            from dnn_lab.sweep.state import SweepState

            print_resume_plan(console, SweepState.load(resume))
            return
        if resume is not None:
            raise typer.Exit(resume_sweep(resume, worker_count, SweepView(console), where))
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
            worker_count,
            objectives=_split([objectives]) if objectives else None,
        )
        if not plan.grid and not plan.space and plan.repeats == 1:
            raise DnnLabError(
                "nothing to sweep: give --grid KEY=V1,V2, --random KEY=KIND(ARGS), --repeats N, "
                "or a sweep: section in the config"
            )
        if dry_run:
            print_trial_plan(console, planning.plan_only(cfg, plan), plan)
            return
        code = start_sweep(cfg, plan, runs_dir, worker_count, SweepView(console), where)
    raise typer.Exit(code)


def _worker_count(text: str | None) -> int | None:
    """``--workers``: a count, or ``auto`` (None: the sweep decides from cores and GPUs)."""
    if text is None or text.strip().lower() == "auto":
        return None
    if text.strip().isdigit() and int(text) >= 1:
        return int(text)
    raise DnnLabError(f"--workers: expected a number of at least 1, or auto; received {text!r}")
