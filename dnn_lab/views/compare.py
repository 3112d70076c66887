"""Many runs side by side: what differs between them and how they scored.

Reads run directories only (no Keras, no TensorFlow), so it answers at once
and works on runs that failed, were interrupted, are still running or are
damaged: whatever could be read is shown, with the run's status.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnn_lab.direction import Direction
from dnn_lab.errors import DnnLabError
from dnn_lab.render.formatting import Style, short_titles, show_value
from dnn_lab.render.tables import Column, Table, sparkline
from dnn_lab.store import index, runs
from dnn_lab.store.collect import MISSING, collect_compared, config_get, differing_keys, flatten
from dnn_lab.store.status import Status


@dataclass(kw_only=True)
class Comparison:
    """Rows ready to render; ``columns`` lists (key, title) in display order.

    ``direction`` is the order of the rows by ``sort_key``: MAX puts the largest value first.
    """

    rows: list[dict[str, Any]]
    columns: list[tuple[str, str]]
    common: dict[str, Any]
    differing: list[str]
    sort_key: str
    direction: Direction
    skipped: list[Path] = field(default_factory=list)
    metric_columns: list[str] = field(default_factory=list)


def run_row(run: runs.Run) -> dict[str, Any]:
    """Everything a comparison can show of one run, as flat keys (``index.comparison_row``),
    with its config and the run itself (never columns)."""
    row = index.comparison_row(run)
    row["_config"] = run.config
    row["_run"] = run  # its history, read once, for the curves and the plot
    return row


def history(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A row's run's history: a row from the index has no Run, its history is read when
    asked for (the first rows' curves, the plot)."""
    run = row.get("_run")
    if run is not None:
        return run.history
    return runs.read_history(Path(row["path"]) / runs.HISTORY_FILE)


def _with_config_columns(rows: list[dict[str, Any]], keys: Iterable[str]) -> None:
    for row in rows:
        for key in keys:
            value = config_get(row["_config"], key[len("config.") :])
            if value is not MISSING:
                row[key] = value


_NOT_DIFFERENCES = {"config.name"}


def compare(
    paths: Sequence[Path],
    sort: str | None = None,
    reverse: bool = False,
    top: int | None = None,
    where: Sequence[str] = (),
    columns: Sequence[str] = (),
) -> Comparison:
    found, skipped = collect_compared(paths)
    rows = [item if isinstance(item, dict) else run_row(item) for item in found]
    conditions = [parse_where(text) for text in where]
    for condition in conditions:
        condition.check_key(rows)
    for condition in conditions:
        rows = [row for row in rows if condition.matches(row)]
    differing, common = [], {}
    if rows:
        changed = differing_keys([row["_config"] for row in rows])
        differing = [f"config.{k}" for k in changed if f"config.{k}" not in _NOT_DIFFERENCES]
        _with_config_columns(rows, differing)
        common = {
            k: v
            for k, v in sorted(flatten(rows[0]["_config"]).items())
            if k not in changed and f"config.{k}" not in _NOT_DIFFERENCES
        }
    monitors = [row["monitor"] for row in rows if row.get("monitor")]
    monitor = max(set(monitors), key=monitors.count) if monitors else None
    sort_key = column_for(sort, rows) if sort else (f"best_{monitor}" if monitor else "run")
    # a metric sorts best first; run names and config keys (MIN by name) ascending
    direction = Direction.of(sort_key if sort else monitor or "run")
    if reverse:
        direction = direction.reversed
    rows = _sorted(rows, sort_key, direction)
    if top is not None:
        rows = rows[:top]
    metric_columns = _metric_columns(rows, monitor)
    shown: list[tuple[str, str]] = [("run", "run"), ("status", "status")]
    config_columns = list(differing)
    for extra in columns:
        key = column_for(extra, rows)
        if key not in config_columns:
            config_columns.append(key)
    titles = short_titles([k for k in config_columns if k.startswith("config.")])
    shown += [(key, titles.get(key, key)) for key in config_columns]
    shown += [("params", "params")]
    if any(row.get("trainable") != row.get("params") for row in rows):
        shown += [("trainable", "trainable")]
    shown += [("epochs", "epochs")]
    shown += [(key, _title(key)) for key in metric_columns]
    shown += [("seconds_per_epoch", "s/epoch")]
    if sort_key not in [key for key, _ in shown]:
        shown.insert(2, (sort_key, _title(sort_key)))
    return Comparison(
        rows=rows,
        columns=shown,
        common=common,
        differing=differing,
        sort_key=sort_key,
        direction=direction,
        skipped=skipped,
        metric_columns=metric_columns,
    )


def _metric_columns(rows: list[dict[str, Any]], monitor: str | None) -> list[str]:
    keys: list[str] = []
    if monitor:
        keys += [f"best_{monitor}", "best_epoch"]
    present = set().union(*rows)  # every key of every row, gathered in C
    finals = sorted(k for k in present if k.startswith("final_val_"))
    finals = [k for k in finals if "loss" in k] + [k for k in finals if "loss" not in k]
    keys += finals
    tests = sorted(k for k in present if k.startswith("test_"))
    keys += [k for k in tests if "loss" not in k] or tests
    if "mc_dropout_accuracy" in present:
        keys.append("mc_dropout_accuracy")
    return [k for k in dict.fromkeys(keys) if any(k in row for row in rows)]


def _title(key: str) -> str:
    return {"best_epoch": "best epoch", "mc_dropout_accuracy": "mc dropout"}.get(
        key, key.replace("_", " ", 1) if key.startswith(("best_", "final_", "test_")) else key
    )


def column_for(name: str, rows: list[dict[str, Any]]) -> str:
    """Accept ``val_accuracy``, ``best_val_accuracy``, ``train.batch_size``..."""
    present = set().union(*rows)  # every key of every row, gathered in C
    if rows and "." in name:  # a config key: any key the first run's config has
        value = config_get(rows[0].get("_config", {}), name)
        if value is not MISSING or any(
            config_get(r.get("_config", {}), name) is not MISSING for r in rows
        ):
            _with_config_columns(rows, [f"config.{name}"])
            return f"config.{name}"
    monitors = {row.get("monitor") for row in rows}
    # the monitored metric means its best epoch; any other metric its last epoch
    order = ("best", "final") if name in monitors else ("final", "best")
    candidates = (name, *(f"{o}_{name}" for o in order), f"config.{name}", f"test_{name}")
    for candidate in candidates:
        if candidate in present:
            return candidate
    from dnn_lab.errors import did_you_mean

    options = sorted(k for k in present if not k.startswith(("config.", "_")))
    raise DnnLabError(
        f"no column {name!r} in these runs"
        + did_you_mean(name, options)
        + f" Columns: {', '.join(options)}, or any config key such as train.batch_size"
    )


def _sorted(rows: list[dict[str, Any]], key: str, direction: Direction) -> list[dict[str, Any]]:
    """Sort by one column; runs without a value (or with NaN) go last either way."""
    present, absent = [], []
    for row in rows:  # one pass, no call per row: 100,000 rows are sorted here
        value = row.get(key)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        (absent if missing else present).append(row)
    numeric = all(isinstance(row[key], (int, float)) for row in present)
    present.sort(
        key=(lambda r: r[key]) if numeric else (lambda r: show_value(r[key])),
        reverse=direction is Direction.MAX,
    )
    return present + absent


_OPERATORS = (
    ("!=", operator.ne),
    (">=", operator.ge),
    ("<=", operator.le),
    ("=", operator.eq),
    (">", operator.gt),
    ("<", operator.lt),
)


_WHERE_FORM = "expected KEY=VALUE, or KEY!=, <, >, <=, >= VALUE, e.g. --where val_accuracy>0.9"


@dataclass(frozen=True, kw_only=True)
class Where:
    """One ``--where`` condition: a key, an operator and a value read as YAML."""

    text: str
    key: str
    test: Any
    value: Any

    def _value_of(self, row: dict[str, Any]) -> Any:
        column = next(
            (c for c in (self.key, f"best_{self.key}", f"final_{self.key}") if c in row), None
        )
        return row[column] if column is not None else config_get(row.get("_config", {}), self.key)

    def check_key(self, rows: list[dict[str, Any]]) -> None:
        """Refuse a key no run has: it would match nothing, silently."""
        if not rows or any(self._value_of(row) is not MISSING for row in rows):
            return
        from dnn_lab.errors import did_you_mean

        # val_accuracy stands for best_val_accuracy (the monitor) or final_val_accuracy
        keys = sorted(
            {
                k.removeprefix("best_").removeprefix("final_")
                for row in rows
                for k in row
                if not k.startswith(("_", "config."))
            }
        )
        configs = [row["_config"] for row in rows if isinstance(row.get("_config"), dict)]
        config_keys = sorted({k for config in configs for k in flatten(config)})
        raise DnnLabError(
            f"--where {self.text!r}: no key {self.key!r} in these runs"
            + did_you_mean(self.key, [*keys, *config_keys])
            + f" Keys: {', '.join(keys)}, or any config key such as model.activation"
        )

    def matches(self, row: dict[str, Any]) -> bool:
        value = self._value_of(row)
        if value is MISSING:
            return False
        if self.test in (operator.eq, operator.ne):
            same = value == self.value or show_value(value) == show_value(self.value)
            return same if self.test is operator.eq else not same
        try:
            return bool(self.test(value, self.value))
        except TypeError:
            return False


def parse_where(condition: str) -> Where:
    """``val_accuracy>0.9`` -> a ``Where``; anything else is one clear error."""
    import yaml

    for symbol, candidate in _OPERATORS:
        key, sep, text = condition.partition(symbol)
        if sep:
            test = candidate
            break
    else:
        raise DnnLabError(f"--where {condition!r}: no operator; {_WHERE_FORM}")
    key, text = key.strip(), text.strip()
    if not key:
        raise DnnLabError(f"--where {condition!r}: no key before {symbol!r}; {_WHERE_FORM}")
    if not text or text[0] in "<>=!":
        raise DnnLabError(
            f"--where {condition!r}: {text!r} is not a value after {key}{symbol}; {_WHERE_FORM}"
        )
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise DnnLabError(
            f"--where {condition!r}: {text!r} is not a value (a number, a word, or a YAML "
            f"list such as [64,32]); {_WHERE_FORM}"
        ) from None
    return Where(text=condition, key=key, test=test, value=value)


def to_table(comparison: Comparison, curves: int = 0) -> Table:
    """The comparison as a table; the first ``curves`` rows get a sparkline of the monitor."""
    columns = [
        Column(
            key=key,
            title=title,
            style=_style(key),
            best=Direction.of(key)
            if key in comparison.metric_columns and key != "best_epoch"
            else None,
            mark=(" ↓" if comparison.direction is Direction.MAX else " ↑")
            if key == comparison.sort_key
            else "",
            plain=Status.COMPLETED if key == "status" else None,
        )
        for key, title in comparison.columns
    ]
    rows = comparison.rows
    if curves:
        columns.append(Column(key="curve", title="curve", terminal_only=True, exported=False))
        rows = [{**row, "curve": _curve(row)} for row in rows[:curves]] + rows[curves:]
    columns.append(Column(key="path", title="path", drawn=False))
    return Table(
        columns=columns,
        rows=rows,
        header={
            "sort": comparison.sort_key,
            "descending": comparison.direction is Direction.MAX,
            "common": comparison.common,
            "differing": [k[len("config.") :] for k in comparison.differing],
        },
        common=comparison.common,
        skipped=comparison.skipped,
        empty="no runs to compare",
    )


def _style(key: str) -> Style | None:
    if key in ("params", "trainable"):
        return "count"
    if key == "seconds_per_epoch":
        return "short"
    if key in ("epochs", "best_epoch", "mc_dropout_accuracy") or key.startswith(
        ("best_", "final_", "test_")
    ):
        return "metric"
    return None


def _curve(row: dict[str, Any]) -> str:
    """The validation metric per epoch, as a sparkline."""
    metric = row.get("monitor") or "val_loss"
    return sparkline([h.get(metric) for h in history(row)])


def plot(comparison: Comparison, path: Path) -> Path:
    from dnn_lab.render.plots import plot_curves

    histories = [(row["run"], history(row)) for row in comparison.rows]
    return plot_curves([(label, rows) for label, rows in histories if rows], path)
