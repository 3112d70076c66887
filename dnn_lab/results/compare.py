"""Many runs side by side: what differs between them and how they scored.

Reads run directories only (no Keras, no TensorFlow), so it answers at once
and works on runs that failed, were interrupted, are still running or are
damaged: whatever could be read is shown, with the run's status.
"""

from __future__ import annotations

import csv
import io
import json
import math
import operator
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnn_lab.errors import DnnLabError
from dnn_lab.results import rundir as runs

# Metrics where a higher value is better; every other metric (loss, mae...) is lower-better.
_HIGHER_IS_BETTER = ("accuracy", "auc", "precision", "recall", "r2", "f1")
_SPARK = "▁▂▃▄▅▆▇█"


def higher_is_better(metric: str) -> bool:
    return any(word in metric for word in _HIGHER_IS_BETTER)


# --------------------------------------------------------------------------- collecting


def collect(paths: Iterable[Path]) -> tuple[list[runs.Run], list[Path]]:
    """Runs named directly, or the runs inside a folder (a sweep, a runs directory)."""
    found: list[runs.Run] = []
    skipped: list[Path] = []
    seen: set[str] = set()
    for path in map(Path, paths):
        run = runs.try_read_run(path)
        if run is not None:
            batch = [run]
        elif path.is_dir():
            with os.scandir(path) as entries:
                names = sorted(entry.name for entry in entries if entry.is_dir())
            batch = [r for r in (runs.try_read_run(path / name) for name in names) if r]
            if not batch:
                skipped.append(path)
        else:
            skipped.append(path)
            batch = []
        for run in batch:
            key = os.path.realpath(run.path)
            if key not in seen:
                seen.add(key)
                found.append(run)
    return found, skipped


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"epochs": 5}}`` -> ``{"train.epochs": 5}``; lists stay whole values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and not _is_named_spec(value):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _is_named_spec(value: dict[str, Any]) -> bool:
    # {name: sgd, momentum: 0.9} reads best as one value, like the YAML it came from
    return isinstance(value.get("name"), str) and all(
        not isinstance(v, (dict, list)) for v in value.values()
    )


def show_value(value: Any) -> str:
    if isinstance(value, dict) and _is_named_spec(value):
        params = ", ".join(f"{k}={v}" for k, v in value.items() if k != "name")
        return f"{value['name']}({params})"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ",".join(show_value(v) for v in value) + "]"
    return str(value)


# --------------------------------------------------------------------------- rows


@dataclass
class Comparison:
    """Rows ready to render; ``columns`` lists (key, title) in display order."""

    rows: list[dict[str, Any]]
    columns: list[tuple[str, str]]
    common: dict[str, Any]
    differing: list[str]
    sort_key: str
    descending: bool
    skipped: list[Path] = field(default_factory=list)
    metric_columns: list[str] = field(default_factory=list)


def run_row(run: runs.Run) -> dict[str, Any]:
    """Everything a comparison can show of one run, as flat keys."""
    metrics = run.metrics
    history = run.history if run.status in (runs.RUNNING, runs.CRASHED) or not metrics else None
    if history is not None and not metrics.get("final") and history:
        final = {k: v for k, v in history[-1].items() if k not in ("epoch", "lr", "seconds")}
        metrics = {**metrics, "final": final, "epochs_run": len(history)}
    monitor = metrics.get("monitor") or _guess_monitor(metrics.get("final", {}))
    row: dict[str, Any] = {
        "run": run.name,
        "path": str(run.path),
        "status": run.status,
        "started": run.started,
        "params": run.totals.get("total"),
        "trainable": run.totals.get("trainable"),
        "epochs": metrics.get("epochs_run", len(run.history) if history is not None else None),
        "monitor": monitor,
        "best_epoch": metrics.get("best_epoch"),
        "seconds_per_epoch": metrics.get("seconds_per_epoch"),
    }
    for key, value in (metrics.get("best") or {}).items():
        if key.startswith("val_") or key == monitor:
            row[f"best_{key}"] = value
    for key, value in (metrics.get("final") or {}).items():
        row[f"final_{key}"] = value
    for key, value in (metrics.get("test") or {}).items():
        row[f"test_{key}"] = value
    mc = metrics.get("mc_dropout") or {}
    if "accuracy" in mc:
        row["mc_dropout_accuracy"] = mc["accuracy"]
    if run.problems:
        row["problems"] = "; ".join(run.problems)
    row["_config"] = run.config
    return row


_MISSING = object()


def config_get(config: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted key, as ``flatten`` would name it; _MISSING when absent."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def differing_keys(configs: list[Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values are not the same in every config (compared section-wise)."""
    first = configs[0]
    if all(c == first for c in configs[1:]):
        return []
    if all(isinstance(c, dict) and c and not _is_named_spec(c) for c in configs):
        keys = sorted({k for c in configs for k in c})
        found = []
        for key in keys:
            found += differing_keys([c.get(key, _MISSING) for c in configs], f"{prefix}{key}.")
        return found
    return [prefix.rstrip(".")]


def _with_config_columns(rows: list[dict[str, Any]], keys: Iterable[str]) -> None:
    for row in rows:
        for key in keys:
            value = config_get(row["_config"], key[len("config.") :])
            if value is not _MISSING:
                row[key] = value


def _guess_monitor(final: dict[str, Any]) -> str | None:
    for key in ("val_accuracy", "val_loss", "accuracy", "loss"):
        if key in final:
            return key
    return None


_NOT_DIFFERENCES = {"config.name"}


def compare(
    paths: Sequence[Path],
    sort: str | None = None,
    reverse: bool = False,
    top: int | None = None,
    where: Sequence[str] = (),
    columns: Sequence[str] = (),
) -> Comparison:
    found, skipped = collect(paths)
    rows = [run_row(run) for run in found]
    for condition in where:
        rows = [row for row in rows if _matches(row, condition)]
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
    sort_key = _column_for(sort, rows) if sort else (f"best_{monitor}" if monitor else "run")
    descending = higher_is_better(sort_key) if sort else bool(monitor and higher_is_better(monitor))
    if reverse:
        descending = not descending
    rows = _sorted(rows, sort_key, descending)
    if top is not None:
        rows = rows[:top]
    metric_columns = _metric_columns(rows, monitor)
    shown: list[tuple[str, str]] = [("run", "run"), ("status", "status")]
    config_columns = list(differing)
    for extra in columns:
        key = _column_for(extra, rows)
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
    return Comparison(rows, shown, common, differing, sort_key, descending, skipped, metric_columns)


def short_titles(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each config key that is still unique among them."""
    parts = {key: key[len("config.") :].split(".") for key in keys}
    titles = {}
    for key, words in parts.items():
        for size in range(1, len(words) + 1):
            title = ".".join(words[-size:])
            if sum(1 for other in parts.values() if ".".join(other[-size:]) == title) == 1:
                break
        # never look like one of the fixed columns: train.epochs is not epochs run
        titles[key] = ".".join(words) if title in _FIXED_TITLES else title
    return titles


_FIXED_TITLES = {"run", "status", "params", "trainable", "epochs", "s/epoch", "curve"}


def _metric_columns(rows: list[dict[str, Any]], monitor: str | None) -> list[str]:
    keys: list[str] = []
    if monitor:
        keys += [f"best_{monitor}", "best_epoch"]
    present = {k for row in rows for k in row}
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


def _column_for(name: str, rows: list[dict[str, Any]]) -> str:
    """Accept ``val_accuracy``, ``best_val_accuracy``, ``train.batch_size``..."""
    present = {k for row in rows for k in row}
    if rows and "." in name:  # a config key: any key the first run's config has
        value = config_get(rows[0].get("_config", {}), name)
        if value is not _MISSING or any(
            config_get(r.get("_config", {}), name) is not _MISSING for r in rows
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


def _sorted(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Sort by one column; runs without a value (or with NaN) go last either way."""

    def missing(value: Any) -> bool:
        return value is None or (isinstance(value, float) and math.isnan(value))

    present = [row for row in rows if not missing(row.get(key))]
    absent = [row for row in rows if missing(row.get(key))]
    numeric = all(isinstance(row[key], (int, float)) for row in present)
    present.sort(
        key=(lambda r: r[key]) if numeric else (lambda r: show_value(r[key])), reverse=descending
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


def _matches(row: dict[str, Any], condition: str) -> bool:
    import yaml

    for symbol, candidate in _OPERATORS:
        key, sep, text = condition.partition(symbol)
        if sep:
            test = candidate
            break
    else:
        raise DnnLabError(f"--where {condition!r}: expected KEY=VALUE (or !=, <, >, <=, >=)")
    key = key.strip()
    column = next((c for c in (key, f"best_{key}", f"final_{key}") if c in row), None)
    value = row[column] if column is not None else config_get(row.get("_config", {}), key)
    if value is _MISSING:
        return False
    wanted = yaml.safe_load(text.strip())
    if test in (operator.eq, operator.ne):
        same = value == wanted or show_value(value) == show_value(wanted)
        return same if test is operator.eq else not same
    try:
        return bool(test(value, wanted))
    except TypeError:
        return False


# --------------------------------------------------------------------------- rendering


def _best_values(comparison: Comparison) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for key in comparison.metric_columns:
        if key == "best_epoch":
            continue
        values = [
            row[key]
            for row in comparison.rows
            if isinstance(row.get(key), (int, float)) and math.isfinite(row[key])
        ]
        if values:
            best[key] = max(values) if higher_is_better(key) else min(values)
    return best


def cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "seconds_per_epoch" and isinstance(value, float):
        return f"{value:.3f}"
    if key in ("params", "trainable") and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and not key.startswith("config."):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return show_value(value)


def sparkline(values: Sequence[float | None], width: int = 12) -> str:
    """A compact terminal chart of one metric across epochs."""
    points = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(points) < 2:
        return ""
    if len(points) > width:  # keep the last point; sample the rest evenly
        step = (len(points) - 1) / (width - 1)
        points = [points[round(i * step)] for i in range(width)]
    low, high = min(points), max(points)
    span = high - low or 1.0
    return "".join(_SPARK[min(7, int((p - low) / span * 7.999))] for p in points)


TABLE_ROWS = 25  # a terminal table of more rows is read by nobody; exports have them all


def render_table(
    comparison: Comparison, console, curves: bool = True, limit: int | None = TABLE_ROWS
) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    if comparison.skipped:
        console.print(
            "[yellow]warning:[/] not run directories, skipped: "
            + ", ".join(str(p) for p in comparison.skipped),
            soft_wrap=True,
            highlight=False,
        )
    if not comparison.rows:
        console.print("no runs to compare")
        return
    if comparison.common and len(comparison.rows) > 1:
        shared = ", ".join(
            f"{k}={show_value(v)}" for k, v in comparison.common.items() if v not in (None, [], {})
        )
        console.print(
            f"[bold]same in all {len(comparison.rows)} runs:[/] {escape(shared)}",
            highlight=False,
            soft_wrap=True,
        )
    best = _best_values(comparison)
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for key, title in comparison.columns:
        numeric = key in best or key in (
            "params",
            "trainable",
            "epochs",
            "best_epoch",
            "seconds_per_epoch",
        )
        arrow = ""
        if key == comparison.sort_key:
            arrow = " ↓" if comparison.descending else " ↑"
        is_config = key.startswith("config.")
        table.add_column(
            title.replace(" ", "\n", 1) + arrow,
            justify="right" if numeric else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=min(len(title), 12) if is_config else None,
        )
    if curves:
        table.add_column("curve", no_wrap=True)
    shown = comparison.rows if limit is None else comparison.rows[:limit]
    for row in shown:
        cells = []
        for key, _ in comparison.columns:
            style = ""
            if key in best and row.get(key) == best[key] and len(comparison.rows) > 1:
                style = "bold green"
            elif key == "status" and row["status"] != runs.COMPLETED:
                style = "yellow"
            cells.append(Text(cell(key, row.get(key)), style=style))  # Text: no markup to parse
        if curves:
            history = runs.read_history(Path(row["path"]) / runs.HISTORY_FILE)
            metric = row.get("monitor") or "val_loss"
            cells.append(Text(sparkline([h.get(metric) for h in history])))
        table.add_row(*cells)
    console.print(table)
    hidden = len(comparison.rows) - len(shown)
    if hidden:
        console.print(
            f"... and {hidden} more runs; --top N shows more, --format csv or json shows all",
            highlight=False,
        )


def render_markdown(comparison: Comparison) -> str:
    best = _best_values(comparison)
    lines = []
    if comparison.common and len(comparison.rows) > 1:
        shared = ", ".join(
            f"`{k}={show_value(v)}`"
            for k, v in comparison.common.items()
            if v not in (None, [], {})
        )
        lines += [f"Same in all {len(comparison.rows)} runs: {shared}", ""]
    titles = [title for _, title in comparison.columns]
    lines.append("| " + " | ".join(titles) + " |")
    lines.append(
        "| "
        + " | ".join(
            "---:"
            if k in best
            or k in ("params", "trainable", "epochs", "best_epoch", "seconds_per_epoch")
            else "---"
            for k, _ in comparison.columns
        )
        + " |"
    )
    for row in comparison.rows:
        cells = []
        for key, _ in comparison.columns:
            text = cell(key, row.get(key)).replace("|", "\\|")
            if key in best and row.get(key) == best[key] and len(comparison.rows) > 1:
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _export_rows(comparison: Comparison) -> list[dict[str, Any]]:
    keys = [k for k, _ in comparison.columns] + ["path"]
    return [{key: row.get(key) for key in keys} for row in comparison.rows]


def render_json(comparison: Comparison) -> str:
    """One JSON object; each run on a line of its own (greppable, and quick to write)."""
    header = {
        "sort": comparison.sort_key,
        "descending": comparison.descending,
        "common": comparison.common,
        "differing": [k[len("config.") :] for k in comparison.differing],
    }
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in runs.json_safe(header).items()]
    rows = [json.dumps(row) for row in runs.json_safe(_export_rows(comparison))]
    lines.append('  "runs": [' + ("\n    " + ",\n    ".join(rows) + "\n  " if rows else "") + "]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_csv(comparison: Comparison) -> str:
    return rows_to_csv(_export_rows(comparison))


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows of one shape as CSV: floats exact, lists and mappings as JSON, None empty."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else value


def plot(comparison: Comparison, path: Path) -> Path:
    from dnn_lab.results.plots import plot_curves

    histories = [
        (row["run"], runs.read_history(Path(row["path"]) / runs.HISTORY_FILE))
        for row in comparison.rows
    ]
    return plot_curves([(label, rows) for label, rows in histories if rows], path)


# --------------------------------------------------------------------------- listing


def list_runs(folder: Path, status: str | None = None) -> list[dict[str, Any]]:
    """The runs in a runs directory (and in its sweep folders), newest first, one row each."""
    with os.scandir(folder) as entries:
        sweeps = sorted(Path(e.path) for e in entries if e.is_dir() and runs.is_sweep_dir(e.path))
    found, _ = collect([folder, *sweeps])
    rows = []
    for run in found:
        if status is not None and run.status != status:
            continue
        monitor = run.metrics.get("monitor")
        best = (run.metrics.get("best") or {}).get(monitor) if monitor else None
        rows.append(
            {
                "run": run.name,
                "status": run.status,
                "started": run.started or "",
                "dataset": (run.info.get("data") or {}).get("dataset")
                or (run.config.get("data") or {}).get("dataset"),
                "metric": monitor,
                "best": best,
                "epochs": run.epochs_run,
                "path": str(run.path),
            }
        )
    rows.sort(key=lambda r: (r["started"], r["path"]), reverse=True)
    return rows
