"""``dnn_lab.Run``: one run directory as a notebook shows it, and ``load_run``/``runs``.

A ``Run`` reads its directory (``dnn_lab.store``) and never writes to it. In a cell it
shows its status, headline metrics, parameter table and learning curve (the run's own
``curves.png``, inlined, so a saved notebook shows it without the run beside it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnn_lab.render import html
from dnn_lab.render.formatting import number
from dnn_lab.store import runs
from dnn_lab.store.records import MetricsRecord, RunRecord
from dnn_lab.store.status import Status

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure


class Run:
    """One run directory: its config, record, scores and history.

    Args:
        path: the run directory (``runs/adam_relu-20260101-101500``).
    """

    def __init__(self, path: str | Path):
        self._stored = runs.read_run(Path(path))

    @property
    def path(self) -> Path:
        """The run directory."""
        return self._stored.path

    @property
    def name(self) -> str:
        """The run's name (the config's ``name``)."""
        return self._stored.name

    @property
    def status(self) -> str:
        """``completed``, ``interrupted``, ``diverged``, ``failed``, ``running``, ``crashed``
        or ``damaged``."""
        return self._stored.status

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config the run trained with (every default filled in)."""
        return self._stored.config

    @property
    def record(self) -> RunRecord:
        """``run.json``: who ran what, where, on which versions, and how it ended."""
        return self._stored.record

    @property
    def metrics(self) -> MetricsRecord:
        """``metrics.json``: ``.best`` and ``.final`` epoch values, ``.test``, ``.best_epoch``."""
        return self._stored.scores

    @property
    def params(self) -> dict[str, int]:
        """Parameter counts: ``total``, ``trainable``, ``non_trainable``."""
        return dict(self._stored.totals)

    @property
    def timing(self) -> dict[str, float | None]:
        """Seconds per phase, from the process's start (or the call) to the last file."""
        return dict(self._stored.scores.timing or {})

    @property
    def history(self) -> pandas.DataFrame:
        """One row per epoch: ``epoch``, the metrics, ``lr`` and ``seconds``."""
        import pandas

        return pandas.DataFrame(self._stored.history)

    @property
    def monitor(self) -> str | None:
        """The metric that picks the best epoch (``val_accuracy``, ``val_loss``...)."""
        return self._stored.scores.monitor

    @property
    def best(self) -> float | None:
        """The best epoch's value of the monitored metric."""
        return self._stored.scores.best_value(self.monitor)

    def model(self):
        """The saved Keras model (``model.keras``), compiled, ready to ``predict``.

        Imports the framework the run trained on (if this process has none yet).

        Raises:
            RunDirError: the run saved no model (only a completed run does).
        """
        from dnn_lab.training.session import load_saved_model

        return load_saved_model(self.path, self._stored.record.backend)

    def plot(self) -> Figure:
        """The learning curves as a matplotlib figure (loss and the first metric)."""
        from dnn_lab.render.plots import curves_figure

        return curves_figure([(self.name, self._stored.history)], title=self.name)

    def __repr__(self) -> str:
        best = f", {self.monitor} {number(self.best)}" if self.best is not None else ""
        epochs = self._stored.epochs_run
        return f"Run({self.name!r}, {self.status}{best}, {epochs} epochs, {str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def _repr_html_(self) -> str:
        stored, scores = self._stored, self._stored.scores
        colour = "#1a7f37" if self.status == Status.COMPLETED else "#9a6700"
        head = (
            f"<p><b>{html.escape(self.name)}</b> "
            f'<span style="color:{colour}">{html.escape(self.status)}</span> '
            f"<code>{html.escape(self.path)}</code></p>"
        )
        if stored.record.message:
            head += f"<p>{html.escape(stored.record.message)}</p>"
        headline: list[tuple[str, Any]] = []
        if self.monitor is not None:
            at = f" (epoch {scores.best_epoch})" if scores.best_epoch else ""
            headline.append((f"best {self.monitor}{at}", number(self.best)))
        for key, value in (scores.test or {}).items():
            headline.append((f"test {key}", number(value)))
        headline.append(("epochs", stored.epochs_run))
        if self.params:
            headline.append(("params", number(self.params.get("total"), "count")))
        if scores.seconds_per_epoch is not None:
            headline.append(("s/epoch", number(scores.seconds_per_epoch, "short")))
        curve = html.image_html(html.png_file_uri(self.path / runs.CURVES_FILE), "curves")
        return (
            '<div class="dnn-lab-run">'
            + head
            + '<div style="display:flex;gap:2em;align-items:flex-start">'
            + html.key_values_html(headline)
            + _layers_html(stored.params.get("layers"))
            + "</div>"
            + curve
            + "</div>"
        )


def _layers_html(layers: Any) -> str:
    """The parameter table: one row per layer, its output shape and its parameters."""
    if not isinstance(layers, list) or not layers:
        return ""
    cells = "".join(
        f"<tr><td>{html.escape(layer.get('name'))}</td><td>{html.escape(layer.get('class'))}</td>"
        f"<td>{html.escape(layer.get('output_shape'))}</td>"
        f'<td style="text-align:right">{number(layer.get("params"), "count")}</td></tr>'
        for layer in layers
        if isinstance(layer, dict)
    )
    return (
        "<table><thead><tr><th>layer</th><th>class</th><th>output</th>"
        f'<th style="text-align:right">params</th></tr></thead><tbody>{cells}</tbody></table>'
    )


def load_run(path: str | Path) -> Run:
    """The run in ``path``.

    Raises:
        RunDirError: ``path`` is not a run directory.
    """
    from dnn_lab.views.show import load

    load(Path(path))  # one message for a path that is not a run
    return Run(path)


def runs_table(folder: str | Path = "runs", status: str | None = None) -> pandas.DataFrame:
    """The runs in a runs directory (its sweeps' too), newest first, as a DataFrame.

    Args:
        folder: a runs directory; default ``runs``.
        status: only runs with this status (``completed``...); default all.

    Returns:
        One row per run: ``run``, ``status``, ``started``, ``dataset``, ``metric``,
        ``best``, ``epochs``, ``path`` (give paths to ``dnn_lab.compare``).

    Raises:
        RunDirError: ``folder`` is not a directory.
    """
    import pandas

    from dnn_lab.errors import RunDirError
    from dnn_lab.store.collect import list_runs

    if not Path(folder).is_dir():
        raise RunDirError(f"{folder} is not a directory")
    columns = ["run", "status", "started", "dataset", "metric", "best", "epochs", "path"]
    return pandas.DataFrame(list_runs(Path(folder), status), columns=columns)
