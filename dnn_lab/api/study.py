"""``dnn_lab.sweeps`` and ``dnn_lab.study``: settings over seeds, as the sweep commands show them.

A ``Study`` is the table ``dnn-lab compare SWEEP`` prints (mean, std and 95% interval
of each setting over its seeds, best first, and the verdict) with the runs behind it;
``importance()`` and ``pareto()`` are ``compare --importance`` and ``--pareto``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnn_lab.analysis import study as statistics
from dnn_lab.direction import best_row
from dnn_lab.errors import DnnLabError
from dnn_lab.render import html
from dnn_lab.render.tables import Table, export_rows
from dnn_lab.store.status import Status

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

    from dnn_lab.api.run import Run
    from dnn_lab.config.schema import Config


def _frame(table: Table) -> pandas.DataFrame:
    import pandas

    return pandas.DataFrame(
        export_rows(table), columns=[c.key for c in table.columns if c.exported]
    )


class Study:
    """Runs grouped into settings (every config key but the seed), scored over seeds."""

    def __init__(self, result: statistics.Study, folder: Path | None = None):
        self._result = result
        self.folder = folder  #: the sweep folder, when the runs are one sweep's

    @property
    def metric(self) -> str:
        """The metric each run is scored by, at its best epoch."""
        return self._result.metric

    @property
    def verdict(self) -> str:
        """Whether the best setting is ahead of the runner-up by more than the seeds' noise."""
        return self._result.verdict

    @property
    def settings(self) -> list[statistics.Setting]:
        """The settings, best first: ``.values``, ``.scores``, ``.mean``, ``.interval``,
        ``.runs``."""
        return list(self._result.settings)

    @property
    def best(self) -> statistics.Setting | None:
        """The best setting (by its mean over seeds); None when no run completed."""
        scored = [s for s in self._result.settings if s.n]
        return scored[0] if scored else None

    @property
    def best_run(self) -> Run | None:
        """The best setting's best run (by its best epoch's value of the metric)."""
        from dnn_lab.api.run import Run

        best = self.best
        if best is None:
            return None
        direction = self._result.direction
        scored = []
        for run in best.runs:
            score = run.scores.best_value(self.metric)
            if score is None:  # no metrics.json value: the best epoch of its history
                row = best_row(run.history, self.metric, direction)
                score = None if row is None else float(row[self.metric])
            if score is not None and run.status == Status.COMPLETED:
                scored.append((direction.sort_key(score), str(run.path)))
        return Run(min(scored)[1]) if scored else None

    @property
    def runs(self) -> list[Run]:
        """Every run counted, setting by setting."""
        from dnn_lab.api.run import Run

        return [Run(run.path) for setting in self._result.settings for run in setting.runs]

    def table(self) -> Table:
        """The table ``dnn-lab compare SWEEP`` draws."""
        return statistics.to_table(self._result)

    def to_pandas(self) -> pandas.DataFrame:
        """One row per setting: its values, n, mean, std, ci95_low, ci95_high, runs."""
        return _frame(self.table())

    def importance(self) -> pandas.DataFrame:
        """The sweep's keys ranked by the share of the metric's variance they explain
        (Optuna's fANOVA), with their stability over seeds.

        Raises:
            DnnLabError: the runs are not one sweep's, too few settings completed, or
                Optuna is not installed.
        """
        from dnn_lab.analysis import importance
        from dnn_lab.store.sweep_file import read_sweep_file

        if self.folder is None:
            raise DnnLabError("importance needs a sweep folder: dnn_lab.study('runs/SWEEP')")
        info = read_sweep_file(self.folder, for_resume=False)
        found = importance.importance(info)
        if not found.enough:
            raise DnnLabError(found.note)
        return _frame(importance.to_table(found))

    def pareto(self) -> pandas.DataFrame:
        """The settings no other beats on both the metric and a cost (parameters, s/epoch)."""
        from dnn_lab.analysis import pareto

        return _frame(pareto.to_table(pareto.tradeoffs(self._result)))

    def plot(self) -> Figure:
        """Each setting's curves: the mean over its runs, with a band from lowest to highest."""
        from dnn_lab.render.plots import bands_figure

        groups = [
            (s.label(), [run.history for run in s.runs if run.history])
            for s in self._result.settings
        ]
        return bands_figure([(label, h) for label, h in groups if h], self.metric)

    def __repr__(self) -> str:
        runs = sum(len(s.runs) for s in self._result.settings)
        where = f", {str(self.folder)!r}" if self.folder else ""
        return f"Study({len(self._result.settings)} settings, {runs} runs, {self.metric}{where})"

    def _repr_html_(self) -> str:
        image = ""
        if any(run.history for s in self._result.settings for run in s.runs):
            image = html.image_html(html.figure_uri(self.plot()), "curves per setting")
        return html.table_html(self.table()) + image


def study(*runs: Run | str | Path, by: str | None = None, metric: str | None = None) -> Study:
    """Group runs into settings that differ only by seed, and score each over its seeds.

    Args:
        *runs: a sweep folder, run directories, ``Run`` objects or folders of runs.
        by: group by this one config key only (``"model.initializer"``); default every
            key that differs.
        metric: score by this metric at each run's best epoch; default the runs' monitor.
    """
    from dnn_lab.store.collect import collect
    from dnn_lab.store.runs import is_sweep_dir
    from dnn_lab.sweeps.state import counted_runs

    paths = [Path(os.fspath(run)) for run in runs]
    found, _ = collect(counted_runs(paths))
    folders = [p for p in paths if is_sweep_dir(p)]
    folder = folders[0] if len(folders) == 1 and len(paths) == 1 else None
    return Study(statistics.group_runs(found, by=by, metric=metric), folder)


def sweep(
    config: str | Path | Mapping[str, Any] | Config,
    *,
    grid: Mapping[str, Iterable[Any]] | None = None,
    random: Mapping[str, str] | None = None,
    search: str | None = None,
    trials: int | None = None,
    repeats: int | None = None,
    workers: int | None = None,
    objectives: Iterable[str] | None = None,
    set: Mapping[str, Any] | Iterable[str] | None = None,  # noqa: A002
    name: str | None = None,
    runs_dir: str | Path = "runs",
) -> Study:
    """Train a config over a grid, random or guided search, each setting over seeds.

    Trials train in warm worker processes, as ``dnn-lab sweep`` runs them; the sweep
    folder is resumable with ``dnn-lab sweep --resume``.

    Args:
        config: a YAML file's path, a dict shaped like one or a ``Config``; its
            ``sweep:`` section, if any, is the start.
        grid: axes, ``{"model.initializer": ["glorot_uniform", "he_normal"]}``.
        random: ranges, ``{"train.optimizer.learning_rate": "loguniform(1e-4,1e-1)"}``.
        search: ``grid``, ``random``, ``optuna`` or ``hyperband``; default grid (random
            when ranges are given).
        trials: settings to try (random, optuna, hyperband).
        repeats: seeds per setting: seed, seed+1, ...; default 1.
        workers: trials at a time; default one per CPU core (or GPU).
        objectives: optuna's metric and cost, ``["val_accuracy", "params"]``.
        set: overrides of the base config by dotted key, as for ``train``.
        name: the sweep's name; default the config's.
        runs_dir: where the sweep folder goes; default ``runs``.

    Raises:
        ConfigError: the config or an axis does not validate; ``.errors`` names the key.
        KeyboardInterrupt: the sweep was stopped; its folder can be resumed.
    """
    from dnn_lab.api.training import load

    cfg, _ = load(config, set=set, name=name)
    grid_texts = [
        f"{key}=" + ",".join(json.dumps(value) for value in values)
        for key, values in (grid or {}).items()
    ]
    random_texts = [f"{key}={spec}" for key, spec in (random or {}).items()]
    folder = _run_sweep(
        cfg, grid_texts, random_texts, search, trials, repeats, workers, objectives, runs_dir
    )
    return study(folder)


def _run_sweep(cfg, grid, random, search, trials, repeats, workers, objectives, runs_dir) -> Path:
    """Run the sweep through the function ``dnn-lab sweep`` calls; the folder it made."""
    from dnn_lab.api.display import console_for_here
    from dnn_lab.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
    from dnn_lab.sweeps.session import NothingToSweep, SweepRequest, run_sweep
    from dnn_lab.sweeps.view import SweepView

    request = SweepRequest(
        config=cfg,
        grid=tuple(grid),
        random=tuple(random),
        search=search,
        trials=trials,
        repeats=repeats,
        workers=workers,
        objectives=tuple(objectives) if objectives else None,
        runs_dir=Path(runs_dir),
    )
    try:
        outcome = run_sweep(request, SweepView(console_for_here()))
    except NothingToSweep:
        raise NothingToSweep(
            "nothing to sweep: give grid={KEY: [V1, V2]}, random={KEY: 'KIND(ARGS)'}, "
            "repeats=N, or a sweep: section in the config (dnn_lab.train runs one config)"
        ) from None
    if outcome.exit_code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        raise KeyboardInterrupt(
            f"sweep {outcome.folder} stopped; dnn-lab sweep --resume continues it"
        )
    return outcome.folder


def report(of: Study | str | Path, by: str | None = None) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into a sweep folder; the files written.

    Args:
        of: a ``Study`` of one sweep (from ``sweep``) or a sweep folder.
        by: group by this one config key only; default every key that differs.
    """
    from dnn_lab.analysis.report import read_base_config, write_report
    from dnn_lab.store.sweep_file import read_sweep_file
    from dnn_lab.sweeps.state import BASE_FILE

    folder = of.folder if isinstance(of, Study) else Path(os.fspath(of))
    if folder is None:
        raise DnnLabError("report needs a sweep folder: a Study from dnn_lab.sweep(...)")
    info = read_sweep_file(folder, for_resume=False)  # a damaged file: one message, no report
    found = of if isinstance(of, Study) and by is None else study(folder, by=by)
    return write_report(folder, found._result, read_base_config(folder / BASE_FILE), info)
