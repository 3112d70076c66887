"""``dnn_lab.compare``: runs side by side, the table ``dnn-lab compare`` prints.

The rows, columns, order, highlighted best values and sparklines are those of the
command (``dnn_lab.views.compare``); here they become a DataFrame, HTML in a cell, or
a figure of the runs' curves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnn_lab.render import html
from dnn_lab.render.tables import Table, export_rows
from dnn_lab.views import compare as views

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

    from dnn_lab.api.run import Run


class Comparison:
    """Runs side by side: what differs between them and how they scored, best first."""

    def __init__(self, result: views.Comparison):
        self._result = result

    @property
    def runs(self) -> list[Run]:
        """The runs, in the table's order."""
        from dnn_lab.api.run import Run

        return [Run(row["path"]) for row in self._result.rows]

    @property
    def differing(self) -> list[str]:
        """The config keys that differ between the runs (``config.train.optimizer``...)."""
        return list(self._result.differing)

    @property
    def common(self) -> dict[str, Any]:
        """The config values every run shares, by dotted key."""
        return dict(self._result.common)

    @property
    def sort_key(self) -> str:
        """The column the rows are ordered by, best first."""
        return self._result.sort_key

    def table(self, curves: bool = False) -> Table:
        """The table ``dnn-lab compare`` draws (with a sparkline per run if ``curves``)."""
        return views.to_table(self._result, curves=len(self._result.rows) if curves else 0)

    def to_pandas(self) -> pandas.DataFrame:
        """One row per run: the exported columns of ``dnn-lab compare --format csv``."""
        import pandas

        table = self.table()
        return pandas.DataFrame(
            export_rows(table), columns=[c.key for c in table.columns if c.exported]
        )

    def plot(self) -> Figure:
        """The runs' learning curves overlaid: one colour per run, validation solid."""
        from dnn_lab.render.plots import curves_figure

        histories = [(row["run"], views.history(row)) for row in self._result.rows]
        return curves_figure([(label, rows) for label, rows in histories if rows])

    def __len__(self) -> int:
        return len(self._result.rows)

    def __repr__(self) -> str:
        arrow = "best first" if self._result.rows else "no runs"
        return f"Comparison({len(self)} runs by {self.sort_key}, {arrow})"

    def _repr_html_(self) -> str:
        return html.table_html(self.table(curves=True))


def compare(
    *runs: Run | str | Path,
    sort: str | None = None,
    reverse: bool = False,
    top: int | None = None,
    where: Iterable[str] = (),
    columns: Iterable[str] = (),
) -> Comparison:
    """Runs side by side, as ``dnn-lab compare`` shows them.

    Args:
        *runs: ``Run`` objects, run directories, or folders of runs (``runs``, a sweep).
        sort: the column to order by; default the validation metric, best first.
        reverse: flip the order; default False.
        top: keep the first N; default all.
        where: conditions such as ``"val_accuracy>0.9"`` or ``"train.optimizer=adam"``.
        columns: config keys to add as columns (``"train.epochs"``).

    Raises:
        DnnLabError: a condition or column names no key the runs have.
    """
    paths = [Path(os.fspath(run)) for run in runs]
    result = views.compare(
        paths, sort=sort, reverse=reverse, top=top, where=list(where), columns=list(columns)
    )
    return Comparison(result)
