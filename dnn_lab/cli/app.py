"""The Typer app, its shared options and helpers, and the process's entry point."""

import sys
from contextlib import contextmanager, suppress
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dnn_lab.errors import EXIT_BUG, DnnLabError

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
    """Messages, with markup off: paths and names are printed as they are, brackets and all.

    The few that style a word (``error:``) ask for markup and escape what they quote.
    """
    from dnn_lab.render.terminal import make_console

    return make_console(stderr=True, highlight=False, markup=False)


def _warn_skipped(skipped: list[Path]) -> None:
    """The paths given that are not run directories, as one warning on stderr."""
    if skipped:
        _stderr().print(
            "warning: not run directories, skipped: " + ", ".join(map(str, skipped)),
            soft_wrap=True,
        )


def _stdout(wide_when_piped: bool = False):
    """The console for results; piped tables keep their natural width instead of 80 columns."""
    from dnn_lab.render.terminal import make_console

    return make_console(highlight=False, wide_when_piped=wide_when_piped)


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

        from dnn_lab.errors import Interrupted
        from dnn_lab.render.formatting import printable

        label = "stopped" if isinstance(exc, Interrupted) else "error"
        # escaped: "pip install 'dnn-lab[optuna]'" is not a style tag; printable: a path
        # or name from a file may hold escape sequences
        message = escape(printable(str(exc), newlines=True))
        _stderr().print(f"[bold red]{label}:[/] {message}", markup=True, soft_wrap=True)
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
RunPathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Run directories, or folders of runs (runs/, a sweep).",
        show_default=False,
        autocompletion=_complete_dir,
    ),
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


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def main() -> None:
    """Entry point; accepts --debug anywhere on the command line."""
    argv = sys.argv[1:]
    if "--debug" in argv[1:]:
        argv = ["--debug", *[a for a in argv if a != "--debug"]]
    was_devnull = _is_devnull(1)
    try:
        app(args=argv, prog_name="dnn-lab")
    except KeyboardInterrupt:
        _exit(130)
    except BrokenPipeError:
        _exit(_reader_gone())
    except SystemExit as done:
        _exit(_reader_gone() if _stdout_broken(was_devnull) else done.code)
    except BaseException:
        import traceback

        traceback.print_exc()
        _exit(EXIT_BUG)
    _exit(_reader_gone() if _stdout_broken(was_devnull) else 0)


def _is_devnull(fd: int) -> bool:
    import os

    try:
        here, null = os.fstat(fd), os.stat(os.devnull)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)


def _stdout_broken(was_devnull: bool) -> bool:
    """Did a write meet a closed pipe (``| head``)? Click then swaps stdout for a quiet
    wrapper; rich points descriptor 1 at /dev/null (and exits 1)."""
    swapped = type(sys.stdout).__name__.endswith("PacifyFlushWrapper")
    terminal = sys.modules.get("dnn_lab.render.terminal")
    quiet = terminal is not None and terminal.READER["gone"]
    return swapped or quiet or (not was_devnull and _is_devnull(1))


def _reader_gone() -> int:
    """The reader of our output closed it early (``| head -1``): all it wanted was shown.

    End quietly with 0, as ``cat`` would under a shell that ignores SIGPIPE: stdout is
    pointed at /dev/null so that the final flush has nowhere to fail.
    """
    from dnn_lab.render.terminal import reader_gone

    reader_gone(sys.stdout)
    return 0


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
