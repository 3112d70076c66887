"""Runs into an MLflow tracking store: params, per-epoch metrics, tags and files.

``dnn-lab export mlflow RUN_OR_SWEEP...`` makes one MLflow run per run directory, and a
sweep folder a parent run whose trials are its child runs. Each MLflow run carries the tag
``dnn_lab.run_id`` (the run folder's name and its start time, which stay the same when the
folder is copied or moved), so exporting again finds it and adds only what is new: params
it lacks, epochs past the last one it has, summary metrics that changed, files it does not
hold yet or whose content changed (the tag ``dnn_lab.files`` keeps each file's hash). Tags
are set again (a run that was running may have finished).

A trial is found again only under its own sweep's MLflow run: a copied sweep folder is a
sweep of its own, with its own children. When a whole sweep is exported, a child that is
no longer one of its trials (the first run of a trial that ``--resume`` ran again) is
deleted from the experiment (MLflow keeps it restorable until ``mlflow gc``).

Files are read through the store's gate (``dnn_lab.store.files``): a file that is not a
regular file, is over its size limit or links outside its run or sweep folder is not
uploaded, and the export says so.

MLflow's limits are respected: 100 params or tags per call, 1,000 metrics per call,
values of at most 6,000 characters (params) and 8,000 (tags), longer ones cut with "...".
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dnn_lab import __version__
from dnn_lab.errors import DnnLabError
from dnn_lab.exporters.mlflow_store import (
    DEFAULT_TRACKING_URI,
    check_tracking_uri,
    client_for,
    experiment_id_of,
    quoted,
    store_errors,
)
from dnn_lab.exporters.selection import gather
from dnn_lab.store import files, runs
from dnn_lab.store.collect import flatten
from dnn_lab.store.status import Status

DEFAULT_EXPERIMENT = "dnn-lab"
TAG_RUN_ID = "dnn_lab.run_id"  # what finds a run again on the next export
TAG_FILES = "dnn_lab.files"  # {file name: sha256} of the files uploaded, to notice a change
PARENT_TAG = "mlflow.parentRunId"
MAX_PARAMS_PER_BATCH = 100  # MLflow's limits (mlflow.utils.validation)
MAX_METRICS_PER_BATCH = 1000
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000

# each file uploaded, and the most it may weigh (see dnn_lab.store.files)
RUN_ARTIFACTS = {
    runs.CONFIG_FILE: files.MAX_CONFIG_BYTES,
    runs.SUMMARY_FILE: files.MAX_TEXT_BYTES,
    runs.PARAMS_FILE: files.MAX_PARAMS_BYTES,
    runs.CURVES_FILE: files.MAX_IMAGE_BYTES,
}
MODEL_ARTIFACT = {runs.MODEL_FILE: files.MAX_MODEL_BYTES}
SWEEP_ARTIFACTS = {
    "base.yaml": files.MAX_CONFIG_BYTES,
    runs.SWEEP_FILE: files.MAX_SWEEP_BYTES,
    "report.md": files.MAX_TEXT_BYTES,
    "report.html": files.MAX_TEXT_BYTES,
}
_SUMMARY_SKIP = {"epoch", "lr", "seconds"}
_STATUS = {  # dnn-lab's status -> MLflow's; a running run stays RUNNING
    Status.COMPLETED: "FINISHED",
    Status.FAILED: "FAILED",
    Status.DIVERGED: "FAILED",
    Status.CRASHED: "FAILED",
    Status.DAMAGED: "FAILED",
    Status.INTERRUPTED: "KILLED",
    Status.PRUNED: "KILLED",
}


@dataclass(kw_only=True)
class ExportedRun:
    """One dnn-lab run (or sweep) and what this export added to its MLflow run."""

    name: str
    path: Path
    mlflow_run_id: str
    created: bool
    params: int = 0
    metrics: int = 0
    artifacts: int = 0
    parent: str | None = None  # the sweep's MLflow run id, for a trial
    is_sweep: bool = False
    removed: bool = False  # a child that is no longer one of its sweep's trials, deleted

    @property
    def changed(self) -> bool:
        return self.created or bool(self.params or self.metrics or self.artifacts)


@dataclass(kw_only=True)
class MlflowExport:
    tracking_uri: str
    experiment: str
    experiment_id: str
    runs: list[ExportedRun] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # files the gate would not upload, and why


def export_mlflow(
    paths: Sequence[Path],
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    with_model: bool = False,
) -> MlflowExport:
    """Export run directories, sweep folders or folders of runs to an MLflow tracking store.

    Args:
        paths: run directories, sweep folders, or folders holding either.
        tracking_uri: MLflow's tracking URI; None: MLflow's default (``MLFLOW_TRACKING_URI``,
            else the SQLite database ``mlflow.db`` in the working directory).
        experiment: the MLflow experiment, created when missing. Default ``dnn-lab``.
        with_model: also upload ``model.keras``. Default False.

    Raises:
        DnnLabError: MLflow is not installed, no run among ``paths``, or the store refuses.
    """
    groups, skipped = gather(paths)
    if not groups:
        raise DnnLabError("no run directories among " + ", ".join(map(str, paths)))
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    check_tracking_uri(uri)
    errors = store_errors()
    try:
        client = client_for(uri)
        experiment_id = experiment_id_of(client, experiment)
        result = MlflowExport(
            tracking_uri=client.tracking_uri,
            experiment=experiment,
            experiment_id=experiment_id,
            skipped=skipped,
        )
        exporter = _Exporter(client, experiment_id, with_model, result.refused)
        for group in groups:
            parent = None
            if group.sweep is not None:
                done = exporter.sweep(group.sweep)
                result.runs.append(done)
                parent = done.mlflow_run_id
            exported = [exporter.run(run, parent) for run in group.runs]
            result.runs += exported
            if parent is not None and group.whole:
                result.runs += exporter.remove_stale(parent, exported)
    except errors as exc:
        raise DnnLabError(f"MLflow ({uri}): {exc}") from None
    return result


# --------------------------------------------------------------------------- what to export


def _read_sweep(folder: Path) -> dict[str, Any]:
    try:  # FileRefused (a DnnLabError) for a file the gate will not read
        data = files.read_json(folder / runs.SWEEP_FILE, files.MAX_SWEEP_BYTES)
    except OSError as exc:
        raise DnnLabError(f"{folder / runs.SWEEP_FILE} is unreadable: {exc}") from None
    return data if isinstance(data, dict) else {}


def run_key(run: runs.Run) -> str:
    """dnn-lab's id of a run: its folder's name and start time (both survive a copy)."""
    return f"{Path(run.path).name}@{run.started or ''}"


def _millis(stamp: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except ValueError:
        return None


def _device(device: Any) -> Any:
    """``cpu`` or ``gpu`` from run.json's device record (older runs may hold a plain word)."""
    return device.get("kind") if isinstance(device, dict) else device


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _seconds(value: Any) -> float:
    """An epoch's ``seconds`` from history.csv; a missing, negative or non-finite one is 0."""
    return float(value) if _number(value) and math.isfinite(value) and value > 0 else 0.0


class _Exporter:
    def __init__(self, client, experiment_id: str, with_model: bool, refused: list[str]) -> None:
        from mlflow.entities import Metric, Param, RunTag

        self.client, self.experiment_id, self.with_model = client, experiment_id, with_model
        self.refused = refused
        self.Metric, self.Param, self.RunTag = Metric, Param, RunTag

    # ----------------------------------------------------------------- one run

    def run(self, run: runs.Run, parent: str | None) -> ExportedRun:
        started = _millis(run.started)
        tags = self._run_tags(run)
        if parent:  # also for a run exported before its sweep was
            tags["mlflow.parentRunId"] = parent
        mlflow_run, created = self._find_or_create(run_key(run), run.name, started, tags, parent)
        run_id = mlflow_run.info.run_id
        done = ExportedRun(
            name=run.name, path=Path(run.path), mlflow_run_id=run_id, created=created, parent=parent
        )
        params = {key: _text(value) for key, value in flatten(run.config).items()}
        done.params = self._log_params(run_id, params, mlflow_run.data.params)
        done.metrics = self._log_history(run_id, run, started or 0, fresh=created)
        done.metrics += self._log_summary(run_id, run, mlflow_run.data.metrics)
        self._log_tags(run_id, tags)
        names = {**RUN_ARTIFACTS, **(MODEL_ARTIFACT if self.with_model else {})}
        done.artifacts = self._log_artifacts(run_id, Path(run.path), names, mlflow_run)
        self._finish(run_id, run.status, _millis(run.record.ended))
        return done

    def _run_tags(self, run: runs.Run) -> dict[str, str]:
        record = run.record
        git = record.git or {}
        versions = record.versions or {}
        tags = {
            TAG_RUN_ID: run_key(run),
            "dnn_lab.run_dir": str(Path(run.path).resolve()),
            "dnn_lab.status": run.status,
            "dnn_lab.seed": record.seed,
            "dnn_lab.backend": record.backend,
            "dnn_lab.device": _device(record.device),
            # run.json does not record the dnn-lab that trained it (yet); the exporter's is kept
            # apart so it is never mistaken for that
            "dnn_lab.version": versions.get("dnn_lab"),
            "dnn_lab.exported_with": __version__,
            "dnn_lab.git_commit": git.get("commit"),
            "mlflow.source.git.commit": git.get("commit"),
            "dnn_lab.config_modified": git.get("config_modified"),
            "dnn_lab.keras": versions.get("keras"),
        }
        return {
            key: _cut(_text(value), MAX_TAG_LENGTH)
            for key, value in tags.items()
            if value is not None
        }

    def _log_history(self, run_id: str, run: runs.Run, started: int, fresh: bool) -> int:
        """Every epoch of history.csv with step = epoch; only epochs past those already there."""
        keys = {key for row in run.history for key in row if key != "epoch"}
        last = {key: -1 if fresh else self._last_step(run_id, key) for key in keys}
        metrics, clock = [], float(started)
        for row in run.history:
            epoch = row.get("epoch")
            clock += 1000 * _seconds(row.get("seconds"))  # NaN or a damaged cell: no time
            if not isinstance(epoch, int):
                continue
            for key, value in row.items():
                if key != "epoch" and _number(value) and epoch > last[key]:
                    metrics.append(self.Metric(key, float(value), int(clock), epoch))
        self._log_metrics(run_id, metrics)
        return len(metrics)

    def _last_step(self, run_id: str, key: str) -> int:
        history = self.client.get_metric_history(run_id, key)
        return max((m.step for m in history), default=-1)

    def _log_summary(self, run_id: str, run: runs.Run, present: dict[str, float]) -> int:
        """final_*, best_*, test_*, best_epoch: logged when missing or changed."""
        found = run.scores
        epochs = found.epochs_run or 0
        wanted: list[tuple[str, float, int]] = []
        for prefix, step in (("final", epochs), ("best", found.best_epoch or 0), ("test", epochs)):
            section = getattr(found, prefix)
            if section is not None:
                wanted += [
                    (f"{prefix}_{key}", float(value), step)
                    for key, value in section.items()
                    if _number(value) and key not in _SUMMARY_SKIP
                ]
        for key in ("best_epoch", "epochs_run", "seconds_per_epoch", "wall_seconds"):
            value = getattr(found, key)
            if _number(value):
                wanted.append((key, float(value), epochs))
        now = int(datetime.now().timestamp() * 1000)
        metrics = [
            self.Metric(key, value, now, step)
            for key, value, step in wanted
            if key not in present or present[key] != value
        ]
        self._log_metrics(run_id, metrics)
        return len(metrics)

    # ----------------------------------------------------------------- a sweep

    def sweep(self, folder: Path) -> ExportedRun:
        info = _read_sweep(folder)
        name = str(info.get("name") or folder.name)
        key = f"{folder.name}@{info.get('created', '')}"
        tags = {
            TAG_RUN_ID: key,
            "dnn_lab.run_dir": str(folder.resolve()),
            "dnn_lab.kind": "sweep",
            "dnn_lab.status": _text(info.get("status", "")),
            "dnn_lab.exported_with": __version__,
        }
        mlflow_run, created = self._find_or_create(
            key, name, _millis(info.get("created")), tags, None
        )
        run_id = mlflow_run.info.run_id
        params = {
            f"sweep.{k}": _text(v)
            for k, v in info.items()
            if k in ("search", "repeats", "planned", "seed", "monitor", "direction", "prune")
            and v is not None
        }
        for section in ("grid", "space"):
            if isinstance(info.get(section), dict):
                params.update({f"{section}.{k}": _text(v) for k, v in info[section].items()})
        done = ExportedRun(
            name=name, path=folder, mlflow_run_id=run_id, created=created, is_sweep=True
        )
        done.params = self._log_params(run_id, params, mlflow_run.data.params)
        self._log_tags(run_id, tags)
        done.artifacts = self._log_artifacts(run_id, folder, SWEEP_ARTIFACTS, mlflow_run)
        self._finish(run_id, str(info.get("status", "")), None)
        return done

    # ----------------------------------------------------------------- shared

    def remove_stale(self, parent: str, exported: list[ExportedRun]) -> list[ExportedRun]:
        """Delete the children of ``parent`` that are not among its trials any more."""
        kept = {run.mlflow_run_id for run in exported}
        stale = [
            child
            for child in self._search(f"tags.`{PARENT_TAG}` = '{quoted(parent)}'")
            if child.info.run_id not in kept
        ]
        for child in stale:
            self.client.delete_run(child.info.run_id)
        return [
            ExportedRun(
                name=child.info.run_name or child.info.run_id,
                path=Path(child.data.tags.get("dnn_lab.run_dir", "?")),
                mlflow_run_id=child.info.run_id,
                created=False,
                parent=parent,
                removed=True,
            )
            for child in stale
        ]

    def _search(self, filter_string: str) -> list:
        found, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string=filter_string, page_token=token
            )
            found += list(page)
            token = page.token
            if not token:
                return found

    def _find_or_create(self, key, name, started, tags, parent):
        # a trial is found under its own sweep only: a copied sweep has children of its own
        for run in self._search(f"tags.`{TAG_RUN_ID}` = '{quoted(key)}'"):
            if run.data.tags.get(PARENT_TAG) == parent:
                return run, False
        extra = {PARENT_TAG: parent} if parent else {}
        created = self.client.create_run(
            self.experiment_id, start_time=started, tags={**tags, **extra}, run_name=name
        )
        return self.client.get_run(created.info.run_id), True

    def _log_params(self, run_id: str, params: dict[str, str], present: dict[str, str]) -> int:
        # a param is immutable in MLflow: one already there is left as it is
        fresh = [
            self.Param(key, _cut(value, MAX_PARAM_LENGTH))
            for key, value in params.items()
            if key not in present
        ]
        for batch in _chunks(fresh, MAX_PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=batch)
        return len(fresh)

    def _log_tags(self, run_id: str, tags: dict[str, str]) -> None:
        items = [self.RunTag(key, value) for key, value in tags.items()]
        for batch in _chunks(items, MAX_PARAMS_PER_BATCH):
            self.client.log_batch(run_id, tags=batch)

    def _log_metrics(self, run_id: str, metrics: list) -> None:
        for batch in _chunks(metrics, MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=batch)

    def _log_artifacts(self, run_id: str, folder: Path, limits: dict[str, int], mlflow_run) -> int:
        """Upload the files that are new or changed, as the gate read them (a copy)."""
        present = {Path(item.path).name for item in self.client.list_artifacts(run_id)}
        try:
            hashes = json.loads(mlflow_run.data.tags.get(TAG_FILES, "{}"))
        except ValueError:
            hashes = {}
        hashes = hashes if isinstance(hashes, dict) else {}
        added = 0
        with tempfile.TemporaryDirectory(prefix="dnn-lab-export-") as scratch:
            for name, limit in limits.items():
                copy = Path(scratch) / name
                try:  # links outside the folder, FIFOs, devices, huge files: refused
                    files.copy_file(folder / name, copy, limit, inside=folder)
                except FileNotFoundError:
                    continue
                except files.FileRefused as exc:
                    self.refused.append(str(exc))
                    continue
                digest = files.sha256(copy)
                if name not in present or hashes.get(name) != digest:
                    self.client.log_artifact(run_id, str(copy))
                    hashes[name] = digest
                    added += 1
        if added:
            self._log_tags(run_id, {TAG_FILES: json.dumps(hashes, sort_keys=True)})
        return added

    def _finish(self, run_id: str, status: str, ended: int | None) -> None:
        final = _STATUS.get(status)
        if final is not None:
            self.client.set_terminated(run_id, status=final, end_time=ended)


def render(result: MlflowExport) -> str:
    """What the command prints: one line per run, what was added, and where."""
    lines = []
    for run in result.runs:
        what = "sweep" if run.is_sweep else ("  trial" if run.parent else "run")
        if run.removed:
            lines.append(
                f"{what} {run.name} ({run.path}): removed, no longer a trial of its sweep "
                f"[{run.mlflow_run_id}]"
            )
            continue
        if run.created:
            state = "created"
        elif run.changed:
            state = "updated"
        else:
            state = "up to date"
        added = f"+{run.params} params, +{run.metrics} metrics, +{run.artifacts} files"
        lines.append(f"{what} {run.name} ({run.path}): {state}, {added}  [{run.mlflow_run_id}]")
    lines += [f"not uploaded: {reason}" for reason in result.refused]
    created = sum(run.created for run in result.runs)
    lines.append(
        f"{sum(not run.removed for run in result.runs)} runs in experiment {result.experiment!r} "
        f"({created} new) at {result.tracking_uri}"
    )
    return "\n".join(lines)
