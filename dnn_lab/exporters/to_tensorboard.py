"""Runs as TensorBoard event files: per-epoch scalars and HParams, without TensorFlow.

``dnn-lab export tensorboard RUN_OR_SWEEP... --logdir DIR`` writes one folder per run
under DIR with its history as scalars (step = epoch) and its hyperparameters (the config
keys that differ between the exported runs), plus the experiment's HParams config at the
top of DIR, so TensorBoard's HParams dashboard lines the runs up.

The ``tensorboard`` package writes events by itself, but its ``EventFileWriter`` opens
files through ``tf.io.gfile``, which imports TensorFlow (seconds) when it is installed.
Records are therefore written here with TensorBoard's ``RecordWriter`` and protos, which
never touch TensorFlow. File names are fixed per run, so exporting again rewrites a run's
events instead of adding a second copy.

A run's event file is named by its start time. Another run with the same folder name (and
another start), exported later to the same logdir, finds a folder holding an event file not
its own and takes a folder of its own (``NAME-2``) instead of mixing its events into it.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dnn_lab.errors import DnnLabError
from dnn_lab.exporters.selection import gather
from dnn_lab.store import runs
from dnn_lab.store.collect import MISSING, config_get, differing_keys

INSTALL_HINT = "pip install 'dnn-lab[tensorboard]'"
EVENTS_SUFFIX = "dnn-lab"  # events.out.tfevents.<started>.dnn-lab: ours, rewritten on export
_NOT_HYPERPARAMETERS = {"name"}


@dataclass(kw_only=True)
class ExportedRun:
    name: str  # the run's folder under the logdir, as TensorBoard lists it
    path: Path  # the run directory it came from
    events: Path
    scalars: int


@dataclass(kw_only=True)
class TensorBoardExport:
    """What ``export_tensorboard`` wrote."""

    logdir: Path
    runs: list[ExportedRun] = field(default_factory=list)
    hparams: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def export_tensorboard(paths: Sequence[Path], logdir: Path) -> TensorBoardExport:
    """Write the runs named by ``paths`` (run directories, sweeps, runs folders) under ``logdir``.

    Raises:
        DnnLabError: no run among ``paths``, the logdir cannot be written, or the
            ``tensorboard`` package is missing.
    """
    protos = _protos()
    groups, skipped = gather(paths)
    found = [run for group in groups for run in group.runs]
    if not found:
        raise DnnLabError("no run directories among " + ", ".join(map(str, paths)))
    logdir = Path(logdir)
    names = _unique_names(found, logdir)
    keys = [
        k for k in differing_keys([run.config for run in found]) if k not in _NOT_HYPERPARAMETERS
    ]
    values = _hparam_values(found, keys)
    metrics = _metric_tags(found)
    result = TensorBoardExport(logdir=logdir, hparams=keys, metrics=metrics, skipped=skipped)
    try:
        for run, name, hparams in zip(found, names, values, strict=True):
            result.runs.append(_write_run(protos, run, logdir / name, name, hparams))
        _write_experiment(protos, logdir, found, keys, values, metrics)
    except OSError as exc:
        raise DnnLabError(f"cannot write TensorBoard events under {logdir}: {exc}") from None
    return result


# --------------------------------------------------------------------------- what is written


def _unique_names(found: list[runs.Run], logdir: Path) -> list[str]:
    """The run's folder name; a sweep's trials go under the sweep's name.

    A name already taken, in this export or by another run exported to ``logdir`` before,
    gets ``-2``, ``-3``...
    """
    names: list[str] = []
    for run in found:
        path = Path(run.path)
        base = path.name
        if runs.is_sweep_dir(path.parent):
            base = f"{path.parent.name}/{path.name}"
        name, n = base, 2
        while name in names or _holds_another(logdir / name, run):
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def _events_name(run: runs.Run) -> str:
    """The run's event file: named by its start time, so that it identifies the run."""
    return f"events.out.tfevents.{int(_started(run))}.{EVENTS_SUFFIX}"


def _holds_another(folder: Path, run: runs.Run) -> bool:
    """Whether ``folder`` holds anything but this run's own event file (another run's)."""
    try:
        return any(entry.name != _events_name(run) for entry in folder.iterdir())
    except FileNotFoundError:
        return False
    except OSError:  # a file, or a folder that cannot be listed: not ours to write into
        return True


def _hparam_values(found: list[runs.Run], keys: list[str]) -> list[dict[str, Any]]:
    """HParams take a bool, a number or a string; anything else is shown as compact JSON.

    A key whose values are of different kinds across runs (a number here, null there)
    becomes a string everywhere, since one hyperparameter has one type.
    """
    table = [
        {key: None if (value := config_get(run.config, key)) is MISSING else value for key in keys}
        for run in found
    ]
    for key in keys:
        kinds = {_kind(row[key]) for row in table}
        for row in table:
            value = row[key]
            if len(kinds) > 1 or _kind(value) == "other":
                row[key] = value if isinstance(value, str) else _text(value)
    return table


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "other"


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def _metric_tags(found: list[runs.Run]) -> list[str]:
    tags: dict[str, None] = {}
    for run in found:
        for row in run.history:
            tags.update((key, None) for key in row if key != "epoch")
        monitor = run.scores.monitor
        if monitor is not None and run.scores.best is not None:
            tags[f"best_{monitor}"] = None
    return list(tags)


def _started(run: runs.Run) -> float:
    try:
        return datetime.fromisoformat(str(run.started)).timestamp()
    except ValueError:
        return Path(run.path).stat().st_mtime


def _write_run(protos, run: runs.Run, folder: Path, name: str, hparams: dict) -> ExportedRun:
    start = _started(run)
    events = [protos.hparams_event(hparams, name, start)]
    clock = start
    for row in run.history:
        epoch = row.get("epoch")
        if not isinstance(epoch, int):
            continue
        seconds = row.get("seconds")  # NaN or a damaged cell: no time passed
        clock += seconds if isinstance(seconds, (int, float)) and math.isfinite(seconds) else 0.0
        scalars = {k: v for k, v in row.items() if k != "epoch" and isinstance(v, (int, float))}
        events.append(protos.scalars_event(scalars, epoch, clock))
    monitor, best = run.scores.monitor, run.scores.best
    if best is not None and isinstance(best.get(monitor), (int, float)):
        step = run.scores.best_epoch or 0
        events.append(protos.scalars_event({f"best_{monitor}": best[monitor]}, step, clock))
    target = folder / _events_name(run)
    _write_events(protos, target, events, start)
    scalars = sum(len(event.summary.value) for event in events[1:])
    return ExportedRun(name=name, path=Path(run.path), events=target, scalars=scalars)


def _write_experiment(protos, logdir, found, keys, values, metrics) -> None:
    event = protos.experiment_event(keys, values, metrics, min(map(_started, found)))
    _write_events(protos, logdir / f"events.out.tfevents.0.{EVENTS_SUFFIX}-hparams", [event], 0)


def _write_events(protos, target: Path, events: Iterable, wall_time: float) -> None:
    """One event file, written to a temporary name and renamed, so no reader sees half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    writer = protos.RecordWriter(buffer)
    header = protos.event_pb2.Event(wall_time=wall_time, file_version="brain.Event:2")
    writer.write(header.SerializeToString())
    for event in events:
        writer.write(event.SerializeToString())
    runs.atomic_write_bytes(target, buffer.getvalue(), durable=False)


# --------------------------------------------------------------------------- protos


class _Protos:
    """TensorBoard's protos and record writer; none of these modules imports TensorFlow."""

    def __init__(self) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.hparams import plugin_data_pb2
        from tensorboard.plugins.hparams import summary_v2 as hp
        from tensorboard.plugins.scalar import metadata as scalar_metadata
        from tensorboard.summary.writer.record_writer import RecordWriter
        from tensorboard.util import tensor_util

        self.event_pb2, self.summary_pb2, self.hp = event_pb2, summary_pb2, hp
        self.plugin_data_pb2 = plugin_data_pb2
        self.RecordWriter = RecordWriter
        self.tensor_util = tensor_util
        self.scalar_metadata = scalar_metadata.create_summary_metadata(
            display_name="", description=""
        )

    def scalars_event(self, values: dict[str, float], step: int, wall_time: float):
        summary = self.summary_pb2.Summary()
        for tag, value in values.items():
            summary.value.add(
                tag=tag,
                metadata=self.scalar_metadata,
                tensor=self.tensor_util.make_tensor_proto(float(value), dtype="float32"),
            )
        return self.event_pb2.Event(wall_time=wall_time, step=step, summary=summary)

    def hparams_event(self, hparams: dict[str, Any], trial_id: str, start: float):
        summary = self.hp.hparams_pb(hparams, trial_id=trial_id, start_time_secs=start)
        return self.event_pb2.Event(wall_time=start, step=0, summary=summary)

    def experiment_event(self, keys, values, metrics, created: float):
        hparams = []
        for key in keys:
            seen = sorted({row[key] for row in values}, key=lambda v: (str(type(v)), v))
            hparams.append(self.hp.HParam(key, self.hp.Discrete(seen)))
        summary = self.hp.hparams_config_pb(
            hparams=hparams,
            metrics=[self.hp.Metric(tag, display_name=tag) for tag in metrics],
            time_created_secs=created,
        )
        # Every key here differs between the runs (that is how it was chosen); TensorBoard
        # lists hparams that differ first and only infers the flag when it builds the config.
        (value,) = summary.value
        data = self.plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
        for info in data.experiment.hparam_infos:
            info.differs = True
        value.metadata.plugin_data.content = data.SerializeToString()
        return self.event_pb2.Event(wall_time=time.time(), step=0, summary=summary)


def _protos() -> _Protos:
    try:
        return _Protos()
    except ImportError:
        raise DnnLabError(
            f"exporting to TensorBoard needs the tensorboard package: {INSTALL_HINT}"
        ) from None


def render(result: TensorBoardExport) -> str:
    """What the command prints: one line per run, then how to look at them."""
    lines = [f"{run.name}: {run.scalars} scalars" for run in result.runs]
    hparams = ", ".join(result.hparams) or "none (the runs' configs are the same)"
    lines.append(f"hparams: {hparams}")
    lines.append(
        f"wrote {len(result.runs)} runs to {result.logdir}: tensorboard --logdir {result.logdir}"
    )
    return "\n".join(lines)
