"""Commands that train or check a config: train, validate, datasets."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from dnn_lab.cli.app import (
    Backend,
    ConfigArg,
    Device,
    SetOption,
    _load,
    _stderr,
    _stdout,
    _user_errors,
    app,
)


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
        from dnn_lab.api.training import train_config

        result = train_config(
            config,
            set=overrides or [],
            name=name,
            runs_dir=runs_dir,
            backend=backend.value if backend else None,
            device=device.value if device else None,
            diagnostics=diagnostics,
            console=_stdout(),
            notes=_stderr(),
            command=sys.argv,
            again=False,
        )
    if result.error is not None:
        raise result.error
    raise typer.Exit(result.exit_code)


@app.command()
def validate(config: ConfigArg, overrides: SetOption = None) -> None:
    """Check a config and print it fully resolved, without training."""
    with _user_errors():
        cfg = _load(config, overrides)
        from dnn_lab.config.datasets import dataset_info, known_task
        from dnn_lab.config.head import resolve_head, resolved

        known = known_task(cfg.data.dataset, cfg.data.task)
        if known is None:  # a file: only its data can tell (numpy and the loaders needed)
            from dnn_lab.data.prepare import task_of

            known = task_of(cfg.data, cfg.seed)
        task, n_classes = known
        cfg = resolved(cfg, resolve_head(cfg, task, n_classes))
        input_shape = dataset_info(cfg.data.dataset).input_shape
        if input_shape is not None:  # a built-in dataset: the model's size is known now
            from dnn_lab.data.memory import check_model_fits

            check_model_fits(cfg, input_shape, task, n_classes)
    typer.echo(cfg.to_yaml(), nl=False)
    from rich.markup import escape

    _stderr().print(
        f"[green]ok:[/] {escape(str(config))} is valid ({task}, loss {cfg.train.loss})",
        markup=True,
        soft_wrap=True,
    )


@app.command()
def datasets() -> None:
    """List the datasets a config can name, with size, shape, task and classes."""
    from dnn_lab.render.terminal import print_datasets

    print_datasets(_stdout())
