"""Commands that hand runs and configs to other tools: schema, export mlflow/tensorboard."""

from pathlib import Path
from typing import Annotated

import typer

from dnn_lab.cli.app import RunPathsArg, _complete_dir, _user_errors, _warn_skipped, app


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


@export_app.command("mlflow")
def export_mlflow(
    paths: RunPathsArg,
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
        from dnn_lab.exporters import to_mlflow

        result = to_mlflow.export_mlflow(paths, tracking_uri, experiment, with_model)
        typer.echo(to_mlflow.render(result))
        _warn_skipped(result.skipped)


@export_app.command("tensorboard")
def export_tensorboard(
    paths: RunPathsArg,
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
        from dnn_lab.exporters import to_tensorboard

        result = to_tensorboard.export_tensorboard(paths, logdir)
        typer.echo(to_tensorboard.render(result))
        _warn_skipped(result.skipped)
