"""``dnn_lab.train``: one run from Python, as ``dnn-lab train`` does it from a shell.

``dnn-lab train`` is a caller of ``train_config`` below: the same loading, the same
checks and messages, the same run directory. From Python a mistake is a
``ConfigError`` (never ``SystemExit``), a stopped run is a ``KeyboardInterrupt`` once
its directory says ``interrupted``, and a second run in the same process reuses the
framework already imported (``dnn_lab.training.session``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnn_lab.config.loading import (
    apply_values,
    dotted_values,
    parse_override,
    read_config_file,
    validate_config,
)
from dnn_lab.config.schema import Config
from dnn_lab.errors import ConfigError, DnnLabError, Interrupted

if TYPE_CHECKING:
    from dnn_lab.api.run import Run
    from dnn_lab.training.trainer import TrainResult

Overrides = Mapping[str, Any] | Iterable[str] | None


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C, a kernel interrupt or SIGTERM; ``run`` is its directory,
    recorded ``interrupted`` with its history so far. A ``KeyboardInterrupt``, so it stops
    the cell or script like any other."""

    def __init__(self, run: Run):
        super().__init__(f"{run.path}: interrupted; the history so far is kept")
        self.run = run


def train(
    config: str | Path | Mapping[str, Any] | Config,
    *,
    set: Overrides = None,  # noqa: A002  (the CLI's --set, by the same name)
    name: str | None = None,
    runs_dir: str | Path = "runs",
    backend: str | None = None,
    device: str | None = None,
    diagnostics: bool = False,
    quiet: bool = False,
) -> Run:
    """Train the network a config describes, write its run directory, return the run.

    Args:
        config: a YAML file's path, a dict shaped like one (``{"model": {"units": 32}}``;
            unset keys take their defaults) or a ``Config`` already loaded.
        set: overrides by dotted key, ``{"train.epochs": 3}`` (or the CLI's
            ``["train.epochs=3"]``); default none.
        name: the run's name; default the config's (its file name for a file).
        runs_dir: where the run directory goes; default ``runs``.
        backend: ``tensorflow``, ``jax`` or ``torch``; default the config's. One process
            runs one backend.
        device: ``auto``, ``cpu`` or ``gpu``; default the config's.
        diagnostics: record gradient norms, dead and saturated units; default False.
        quiet: print nothing (no header, progress or result table); default False.

    Returns:
        The run (``dnn_lab.Run``): completed, or ``diverged`` when the loss became NaN.

    Raises:
        ConfigError: the config does not validate; ``.errors`` names each key path.
        DnnLabError: the data or the run directory cannot be used; no run was written.
        RunInterrupted: a ``KeyboardInterrupt``; the run was stopped and says so.
        KeyboardInterrupt: stopped before the run directory was made; nothing written.
    """
    from dnn_lab.api.run import Run
    from dnn_lab.store.status import Status

    try:
        result = train_config(
            config,
            set=set,
            name=name,
            runs_dir=runs_dir,
            backend=backend,
            device=device,
            diagnostics=diagnostics,
            console=_quiet_console() if quiet else None,
        )
    except Interrupted as stopped:  # before the run directory existed: nothing written
        raise KeyboardInterrupt(str(stopped)) from None
    run = Run(result.run_dir)
    if result.status == Status.INTERRUPTED:
        raise RunInterrupted(run)
    if result.error is not None:
        raise result.error
    return run


def train_config(
    config: str | Path | Mapping[str, Any] | Config,
    *,
    set: Overrides = None,  # noqa: A002
    name: str | None = None,
    runs_dir: str | Path = "runs",
    backend: str | None = None,
    device: str | None = None,
    diagnostics: bool = False,
    console=None,
    notes=None,
    command: list[str] | None = None,
    again: bool = True,
) -> TrainResult:
    """Load, check and train ``config``, and print the result: ``train`` and ``dnn-lab train``.

    ``console`` is where the header, the progress and the result table go (default: the
    cell's output in a notebook, the terminal elsewhere); ``notes`` takes the notes
    (default ``console``; the CLI's stderr). ``again``: the process may train once more
    (the CLI's ends after one run).
    """
    from dnn_lab.api.display import console_for_here, consoles_not_in_jupyter
    from dnn_lab.render.terminal import print_training_result
    from dnn_lab.training.session import train_here

    console = console if console is not None else console_for_here()
    extra = {"train.diagnostics": True} if diagnostics else {}
    if device is not None:
        extra["device"] = device
    if backend is not None:
        extra["backend"] = backend
    cfg, path = load(config, set=set, name=name, extra=extra)
    if cfg.sweep is not None:
        study = f"dnn-lab sweep {path}" if path is not None else "dnn_lab.sweeps"
        (notes or console).print(
            "note: this config has a sweep: section; train runs its base config once "
            f"({study} runs the study)",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    with consoles_not_in_jupyter():
        result = train_here(cfg, Path(runs_dir), console=console, command=command, config_path=path)
    print_training_result(console, result)
    return result


def load(
    config: str | Path | Mapping[str, Any] | Config,
    *,
    set: Overrides = None,  # noqa: A002
    name: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[Config, Path | None]:
    """A validated config and the file it came from (None for a dict or a ``Config``).

    The checks and messages are those of a config file with ``--set``: a mistake is a
    ``ConfigError`` naming the key path.
    """
    strings, values = _split_overrides(set)
    values = {**values, **(extra or {})}
    if isinstance(config, Config):
        data, source, path = config.to_dict(), "config", None
    elif isinstance(config, Mapping):
        data, source, path = copy.deepcopy(dict(config)), "config", None
        data.setdefault("name", "run")
    elif isinstance(config, (str, Path)):
        path = Path(config)
        data, source = read_config_file(path), str(path)
        data.setdefault("name", path.stem)
    else:
        raise ConfigError(
            "config: expected a YAML file's path, a dict or a Config; "
            f"received {type(config).__name__}"
        )
    pairs = [parse_override(text) for text in strings] + dotted_values(values)
    data = apply_values(data, pairs)
    if name is not None:
        data["name"] = name
    return validate_config(data, source), path


def _split_overrides(given: Overrides) -> tuple[list[str], dict[str, Any]]:
    if given is None:
        return [], {}
    if isinstance(given, Mapping):
        return [], dict(given)
    if isinstance(given, str):
        return [given], {}
    strings = list(given)
    wrong = [item for item in strings if not isinstance(item, str)]
    if wrong:
        raise DnnLabError(
            "set: expected a dict of dotted keys ({'train.epochs': 3}) or KEY=VALUE strings; "
            f"received {wrong[0]!r}"
        )
    return strings, {}


def _quiet_console():
    import io

    from rich.console import Console

    return Console(file=io.StringIO(), width=120, color_system=None, force_jupyter=False)
