"""A sweep's settings as ``compare`` shows them: filtered and sorted like single runs.

``--where`` on a config key keeps the runs that have it (so a setting keeps all its seeds
or none); on a setting's statistic (``n``, ``mean``, ``std``, ``ci95_low``, ``ci95_high``,
or the metric's own name for the mean) it keeps the settings. A run's other metrics are
refused: keeping the seeds that scored well would make the statistics lie. No Keras.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dnn_lab.analysis.study import (
    Setting,
    Study,
    best_first,
    common_monitor,
    group_runs,
    verdict,
)
from dnn_lab.direction import Direction
from dnn_lab.errors import DnnLabError, did_you_mean
from dnn_lab.render.formatting import show_value
from dnn_lab.store import runs
from dnn_lab.store.collect import MISSING, config_get, flatten
from dnn_lab.views.compare import parse_where

STATISTICS = ("n", "mean", "std", "ci95_low", "ci95_high")


def grouped(
    found: list[runs.Run],
    by: str | None = None,
    where: Sequence[str] = (),
    sort: str | None = None,
    reverse: bool = False,
    top: int | None = None,
    columns: Sequence[str] = (),
) -> Study:
    """The runs grouped into settings over seeds, then filtered, sorted and cut to ``top``.

    The verdict is on the settings the filters keep, best first, whatever the sort.
    ``columns`` adds config keys to the keys shown beside each setting.

    Raises:
        DnnLabError: a ``--where``, ``--sort`` or ``--columns`` key that is no statistic or
            config key.
    """
    everything = found  # the keys a user may name are those of every run
    conditions = [parse_where(text) for text in where]
    metric = common_monitor(found)  # of every run, before any is filtered out
    on_runs = [c for c in conditions if _is_config_key(c.key, everything)]
    for condition in on_runs:
        found = [run for run in found if condition.matches({"_config": run.config})]
    result = group_runs(found, by=by, metric=metric)
    settings = result.settings
    for condition in (c for c in conditions if c not in on_runs):
        _check_statistic(condition.text, condition.key, result, everything, "--where")
        settings = [s for s in settings if condition.matches(_statistics(s, result.metric))]
    ordered = best_first(settings, result.direction)
    judged = verdict(ordered)  # before --columns adds to the settings' labels
    keys = list(result.keys)
    for key in columns:
        if not _is_config_key(key, everything):
            options = sorted({k for run in everything for k in flatten(run.config)})
            raise DnnLabError(
                f"--columns {key!r}: no run has that config key" + did_you_mean(key, options)
            )
        if key not in keys:
            keys.append(key)
            for setting in result.settings:
                setting.values[key] = _common_value(setting, key)
    if sort:
        present, rest = _sorted(settings, sort, result, everything)
    else:  # best first; the settings without a result stay last either way
        present, rest = [s for s in ordered if s.n], [s for s in ordered if not s.n]
    shown = (present[::-1] if reverse else present) + rest
    return Study(
        metric=result.metric,
        direction=result.direction,
        settings=shown[:top] if top else shown,
        keys=keys,
        verdict=judged
        if ordered or not conditions
        else f"no setting matches --where {' '.join(where)}; nothing to rank",
    )


def _common_value(setting: Setting, key: str) -> Any:
    """A setting's value of a config key, or ``(mixed)`` when its runs differ in it."""
    values = [config_get(run.config, key) for run in setting.runs]
    known = [v for v in values if v is not MISSING]
    if not known:
        return None
    return known[0] if all(v == known[0] for v in known) else "(mixed)"


def _is_config_key(key: str, found: list[runs.Run]) -> bool:
    return any(config_get(run.config, key) is not MISSING for run in found)


def _statistics(setting: Setting, metric: str) -> dict[str, Any]:
    low, high = setting.interval
    values = {"n": setting.n, "mean": setting.mean, "std": setting.std}
    values.update({"ci95_low": low, "ci95_high": high, metric: setting.mean})
    # an undefined statistic (NaN: too few seeds) matches no condition
    return {k: v for k, v in values.items() if not (isinstance(v, float) and math.isnan(v))}


def _check_statistic(text: str, key: str, study: Study, found, option: str) -> None:
    if key in (*STATISTICS, study.metric):
        return
    configs = sorted({k for run in found for k in flatten(run.config)})
    raise DnnLabError(
        f"{option} {text!r}: the settings have no {key!r} (they have {', '.join(STATISTICS)}, "
        f"{study.metric} for the mean over seeds, and config keys such as model.units)"
        + did_you_mean(key, [*STATISTICS, study.metric, *configs])
        + " --ungrouped shows the runs one by one"
    )


def _sorted(
    settings: list[Setting], key: str, study: Study, found
) -> tuple[list[Setting], list[Setting]]:
    """By a statistic (the metric's best first, n most seeds first, std least spread first)
    or by a setting's value of a config key (ascending); those without a value apart."""
    if key not in STATISTICS and key != study.metric and _is_config_key(key, found):

        def value(s: Setting) -> Any:
            return s.values[key] if key in s.values else config_get(s.runs[0].config, key)

        present = [s for s in settings if value(s) not in (None, MISSING)]
        numeric = all(isinstance(value(s), (int, float)) for s in present)
        present.sort(key=value if numeric else (lambda s: show_value(value(s))))
    else:
        _check_statistic(key, key, study, found, "--sort")
        stat = "mean" if key == study.metric else key
        direction = {"n": Direction.MAX, "std": Direction.MIN}.get(stat, study.direction)
        present = [s for s in settings if stat in _statistics(s, study.metric)]
        present.sort(key=lambda s: direction.sort_key(_statistics(s, study.metric)[stat]))
    return present, [s for s in settings if s not in present]
