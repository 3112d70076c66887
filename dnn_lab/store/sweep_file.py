"""Reading ``sweep.json`` back, strictly: a damaged file is one message naming the field.

The one reader of the file (``SweepState.load``, ``counted_runs`` and ``report`` all
come here): a file cut short by a full disk, edited by hand or written by another
version must not become a traceback in ``dnn-lab report`` or ``dnn-lab sweep --resume``.
The keys and types here are the fields of ``SweepState`` and ``Trial``
(``tests/sweeps/test_sweep_file.py`` checks that they agree).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dnn_lab.errors import DnnLabError, did_you_mean, short
from dnn_lab.store import files, runs

# What a value may be: a type, a tuple of types, or a tuple of allowed values.
_STRING, _INTEGER, _NUMBER, _FLAG = "a string", "an integer", "a number", "true or false"
_LIST, _MAPPING = "a list", "a mapping"

# sweep.json's keys: (what each must be, whether null is allowed)
SWEEP_KEYS: dict[str, tuple[str, bool]] = {
    "name": (_STRING, False),
    "search": (_STRING, False),
    "grid": (_MAPPING, False),
    "space": (_MAPPING, False),
    "repeats": (_INTEGER, False),
    "planned": (_INTEGER, False),
    "seed": (_INTEGER, False),
    "monitor": (_STRING, True),
    "direction": ("max or min", True),
    "status": (_STRING, False),
    "created": (_STRING, False),
    "prune": (_FLAG, False),
    "min_epochs": (_INTEGER, False),
    "eta": (_INTEGER, False),
    "objectives": (_LIST, True),
    "trials": (_LIST, False),
    "base_config": (_STRING, False),
}
SWEEP_REQUIRED = ("name", "search", "grid", "space", "repeats", "planned", "seed")
# A report reads whatever fields it finds (their types still checked); a resume needs them all.
REPORT_REQUIRED: tuple[str, ...] = ()

TRIAL_KEYS: dict[str, tuple[str, bool]] = {
    "index": (_INTEGER, False),
    "overrides": (_MAPPING, False),
    "seed": (_INTEGER, False),
    "status": (_STRING, False),
    "run_dir": (_STRING, True),
    "value": (_NUMBER, True),
    "epochs": (_INTEGER, True),
    "message": (_STRING, True),
    "group": (_INTEGER, True),
    "budget": (_INTEGER, True),
}
TRIAL_REQUIRED = ("index", "overrides", "seed")
_MOST_PROBLEMS = 10  # listed in one message; the rest are counted


def _is(kind: str, value: Any) -> bool:
    if kind == _STRING:
        return isinstance(value, str)
    if kind == _INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _FLAG:
        return isinstance(value, bool)
    if kind == _LIST:
        return isinstance(value, list)
    if kind == _MAPPING:
        return isinstance(value, dict)
    return value in ("max", "min")


def _check(
    where: str,
    payload: Any,
    keys: dict[str, tuple[str, bool]],
    required: tuple[str, ...],
) -> list[str]:
    """The problems of one record, each as ``field: what is wrong``."""
    if not isinstance(payload, dict):
        return [f"{where or 'the file'}: expected a mapping; received {short(payload)}"]
    prefix = f"{where}." if where else ""
    problems = [f"{prefix}{key}: missing" for key in required if key not in payload]
    for key, value in payload.items():
        if key not in keys:
            problems.append(f"{prefix}{key}: unknown key{did_you_mean(str(key), keys)}")
            continue
        kind, nullable = keys[key]
        if not (value is None and nullable) and not _is(kind, value):
            problems.append(f"{prefix}{key}: expected {kind}; received {short(value)}")
    return problems


def sweep_file_problems(payload: Any, required: tuple[str, ...] = SWEEP_REQUIRED) -> list[str]:
    """Everything wrong with a parsed ``sweep.json``, field by field; empty when it reads."""
    problems = _check("", payload, SWEEP_KEYS, required)
    if not isinstance(payload, dict):
        return problems
    for section, inner in (("grid", _LIST), ("space", _MAPPING)):
        values = payload.get(section)
        if isinstance(values, dict):
            problems += [
                f"{section}.{key}: expected {inner}; received {short(value)}"
                for key, value in values.items()
                if not _is(inner, value)
            ]
    trials = payload.get("trials")
    if isinstance(trials, list):
        for number, trial in enumerate(trials):
            problems += _check(f"trials[{number}]", trial, TRIAL_KEYS, TRIAL_REQUIRED)
    return problems


def require_sweep_folder(folder: Path) -> None:
    """Raises DnnLabError unless ``folder`` holds a ``sweep.json`` (it is not read here).

    Any file at that name passes, a link or a FIFO too: the read that follows says why
    the gate refuses it, which is more use than "not a sweep folder".
    """
    if not os.path.lexists(Path(folder) / runs.SWEEP_FILE):
        raise _not_a_sweep_folder(folder)


def _not_a_sweep_folder(folder: Path) -> DnnLabError:
    return DnnLabError(f"{folder} is not a sweep folder (no {runs.SWEEP_FILE})")


def read_sweep_file(folder: Path, for_resume: bool = True) -> dict[str, Any]:
    """``folder``'s ``sweep.json``, checked field by field (all of them for a resume).

    Raises:
        DnnLabError: no such file, or one that is empty, not JSON, or not a sweep file
            (the message names the file and every field that is wrong); ``FileRefused``
            (one) for a file the gate will not read (a FIFO, a device, too large).
    """
    path = Path(folder) / runs.SWEEP_FILE
    try:
        raw = files.read_bytes(path, files.MAX_SWEEP_BYTES)
    except FileNotFoundError:
        raise _not_a_sweep_folder(folder) from None
    except OSError as exc:
        raise DnnLabError(f"{path}: cannot read it: {exc}") from None
    if not raw.strip():
        raise DnnLabError(f"{path}: the file is empty")
    payload = files.parse_json(raw, str(path))  # FileRefused: not JSON, or nested too deeply
    problems = sweep_file_problems(payload, SWEEP_REQUIRED if for_resume else REPORT_REQUIRED)
    if problems:
        shown = problems[:_MOST_PROBLEMS] + (
            [f"... and {len(problems) - _MOST_PROBLEMS} more"]
            if len(problems) > _MOST_PROBLEMS
            else []
        )
        raise DnnLabError(f"{path}: not a sweep file this version reads\n  " + "\n  ".join(shown))
    return payload
