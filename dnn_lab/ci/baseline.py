"""Runs grouped by setting, and the small baseline file a CI job commits.

A setting is every config key but the name and the seed (as the seed statistics group
runs); its scores are one value per run, the way ``compare`` names them
(``best_val_accuracy``, ``final_val_loss``, ``test_accuracy``). A baseline is the same
grouping read from run folders, or from a file that ``dnn-lab check --save-baseline``
wrote, so that a branch is judged against what the main branch recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnn_lab.analysis.study import NOT_A_SETTING
from dnn_lab.direction import is_finite_number
from dnn_lab.errors import DnnLabError
from dnn_lab.store import files, runs
from dnn_lab.store.collect import collect, flatten
from dnn_lab.store.status import Status
from dnn_lab.views.compare import run_row

FORMAT = "dnn-lab-baseline"
VERSION = 1
_SCORE_PREFIXES = ("best_", "final_", "test_")


@dataclass(kw_only=True)
class Group:
    """One setting: its config name, the keys that define it, and each run's scores."""

    name: str
    setting: dict[str, Any]
    runs: list[str] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)  # column -> one per run

    @property
    def key(self) -> str:
        return json.dumps(self.setting, sort_keys=True, default=str)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "setting": self.setting,
            "runs": self.runs,
            "scores": self.scores,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Group:
        return cls(
            name=str(data["name"]),
            setting=dict(data["setting"]),
            runs=[str(r) for r in data.get("runs", [])],
            scores={
                str(k): [float(v) for v in values if is_finite_number(v)]
                for k, values in dict(data["scores"]).items()
            },
        )


def rows_of(paths: list[Path]) -> list[dict[str, Any]]:
    """``compare``'s row of every run under ``paths``; none is a user error."""
    found, _ = collect(paths)
    if not found:
        raise DnnLabError(f"no runs in {', '.join(str(p) for p in paths)}")
    return [run_row(run) for run in found]


def group_rows(rows: list[dict[str, Any]]) -> list[Group]:
    """Completed runs grouped by setting, in the order first seen; one score per seed."""
    groups: dict[str, Group] = {}
    seen: dict[str, set[str]] = {}
    for row in rows:
        if row["status"] != Status.COMPLETED:
            continue
        config = row["_config"] if isinstance(row.get("_config"), dict) else {}
        setting = {k: v for k, v in flatten(config).items() if k not in NOT_A_SETTING}
        name = str(config.get("name") or row["run"])
        group = Group(name=name, setting=setting)
        group = groups.setdefault(group.key, group)
        group.runs.append(row["run"])
        seed = json.dumps(config.get("seed"))
        if seed in seen.setdefault(group.key, set()):
            continue  # a seed run twice is one sample, as the seed statistics count it
        seen[group.key].add(seed)
        for key, value in row.items():
            if key.startswith(_SCORE_PREFIXES) and key != "best_epoch" and is_finite_number(value):
                group.scores.setdefault(key, []).append(float(value))
    return list(groups.values())


def save(groups: list[Group], path: Path) -> None:
    payload = {"format": FORMAT, "version": VERSION, "settings": [g.to_json() for g in groups]}
    runs.atomic_write_text(Path(path), json.dumps(payload, indent=2, sort_keys=True) + "\n")


def load(path: Path) -> list[Group]:
    """A baseline file; anything else is one clear error."""
    try:
        # a file the user names: a link is followed wherever it leads, as a config's is
        data = files.read_json(Path(path), files.MAX_TEXT_BYTES, inside=Path("/"))
    except files.FileRefused as exc:
        raise DnnLabError(f"--baseline {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DnnLabError(
            f"--baseline {path}: not a dnn-lab baseline (write one with "
            "dnn-lab check RUN --save-baseline FILE)"
        )
    try:
        return [Group.from_json(item) for item in data["settings"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise DnnLabError(f"--baseline {path}: damaged ({type(exc).__name__}: {exc})") from None


def baseline_groups(source: Path) -> list[Group]:
    """The baseline's settings, from a baseline file or from run or sweep folders."""
    source = Path(source)
    if not source.exists():  # a dangling link too
        raise DnnLabError(f"--baseline {source}: no such file or folder")
    if source.is_dir():
        return group_rows(rows_of([source]))
    return load(source)  # the gate names a FIFO, a device or a file too large


def match(group: Group, candidates: list[Group], baselines: list[Group]) -> Group | None:
    """The baseline setting to judge ``group`` by: the same setting, else the only one on
    both sides, else the one of the same config name."""
    for other in baselines:
        if other.key == group.key:
            return other
    if len(baselines) == 1 and len(candidates) == 1:
        return baselines[0]
    named = [other for other in baselines if other.name == group.name]
    return named[0] if len(named) == 1 else None
